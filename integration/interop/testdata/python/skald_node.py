# The seed story's skald_node.py. The node's id comes from SKALD_ID (tests
# on a shared broker need unique ids), and the addresses from the
# environment.
import os
from addresses import KAFKA_HOST, KAFKA_PORT, MONGO_HOST, REDIS_HOST, REDIS_PORT
from skalds import Skald
from skalds.config.skald_config import SkaldConfig
from my_simple_worker import MySimpleWorker

config = SkaldConfig(
    skald_mode="node",
    skald_id=os.environ["SKALD_ID"], # 節點唯一識別碼
    log_split_with_worker_id=True,
    log_level="DEBUG",
    log_path=os.environ.get("LOG_PATH", "logs"),
    redis_host=REDIS_HOST,
    redis_port=REDIS_PORT,
    kafka_host=KAFKA_HOST,
    kafka_port=KAFKA_PORT,
    mongo_host=MONGO_HOST,
)

app = Skald(config)
app.register_task_worker(MySimpleWorker)

if __name__ == "__main__":
    app.run()
