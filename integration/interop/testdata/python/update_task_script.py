# The seed story's update_task_script.py; only the addresses differ.
from addresses import KAFKA_HOST, KAFKA_PORT, MONGO_HOST
from skalds.proxy.kafka import KafkaConfig, KafkaProxy, KafkaTopic
from my_simple_worker import MySimpleDataModel, MySimpleWorker
from skalds.model.task import Task
from skalds.model.event import TaskEvent
from skalds.proxy.mongo import MongoConfig, MongoProxy
from skalds.repository.repository import TaskRepository

# 建立 Kafka 代理
kafka_config = KafkaConfig(
    host=KAFKA_HOST,
    port=KAFKA_PORT,
)
kafka_proxy = KafkaProxy(kafka_config)

# 建立 MongoDB 代理
mongo_config = MongoConfig(
    host=MONGO_HOST,
)
mongo_proxy = MongoProxy(mongo_config=mongo_config)
task_rep = TaskRepository(mongo_proxy)

# 建立新的 Attachments（格式必須與 TaskWorker 的 Model 完全一致）
task_attachment = MySimpleDataModel(
    rtspUrl="rtsp://example.com/new_stream",
    fixFrame=60
)
task_id = "task_123"

# 更新 MongoDB
try:
    task_rep.update_attachments(task_id, task_attachment)
except Exception as e:
    print(e)

# 建立 Task 更新事件
task_event = TaskEvent(task_ids=[task_id])

# 發送更新事件
kafka_proxy.produce(KafkaTopic.TASK_UPDATE_ATTACHMENT, key=task_id, value=task_event.model_dump_json())
