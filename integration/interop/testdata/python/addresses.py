# The servers' addresses, from the environment the test sets: the only
# change made to the seed's scripts, which hard-code 127.0.0.1:9092 and
# mongodb://root:root@localhost:27017/.
import os

KAFKA_HOST = os.environ["KAFKA_HOST"]
KAFKA_PORT = int(os.environ["KAFKA_PORT"])
MONGO_HOST = os.environ["MONGO_HOST"]
REDIS_HOST = os.environ["REDIS_HOST"]
REDIS_PORT = int(os.environ["REDIS_PORT"])
