# Produces one message per key given on the command line to the topic named
# by TOPIC, with kafka-python's default partitioner, as Python Skalds'
# KafkaProxy does (it sets no partitioner of its own). The producer
# negotiates its protocol version instead of pinning (0, 10, 1), so that it
# also runs against kfake; the partitioner does not depend on it.
import os
import sys

from kafka import KafkaProducer

producer = KafkaProducer(
    bootstrap_servers=os.environ["KAFKA_HOST"] + ":" + os.environ["KAFKA_PORT"],
    acks=1,
    compression_type="gzip",
    key_serializer=str.encode,
)
for key in sys.argv[1:]:
    producer.send(os.environ["TOPIC"], key=key, value=b'{"taskIds":["' + key.encode() + b'"],"source":"python"}').get(timeout=30)
producer.flush()
producer.close()
