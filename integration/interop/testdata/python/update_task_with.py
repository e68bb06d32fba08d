# update_task_script.py with the new attachments from the command line
# (RTSP URL, fix frame): what a Python tool sends. Python's model has no
# range check, so it also writes values the Go model refuses.
import sys
from addresses import KAFKA_HOST, KAFKA_PORT, MONGO_HOST
from skalds.proxy.kafka import KafkaConfig, KafkaProxy, KafkaTopic
from my_simple_worker import MySimpleDataModel
from skalds.model.event import TaskEvent
from skalds.proxy.mongo import MongoConfig, MongoProxy
from skalds.repository.repository import TaskRepository

kafka_proxy = KafkaProxy(KafkaConfig(host=KAFKA_HOST, port=KAFKA_PORT))
task_rep = TaskRepository(MongoProxy(mongo_config=MongoConfig(host=MONGO_HOST)))
task_id = "task_123"
task_rep.update_attachments(task_id, MySimpleDataModel(rtspUrl=sys.argv[1], fixFrame=int(sys.argv[2])))
kafka_proxy.produce(KafkaTopic.TASK_UPDATE_ATTACHMENT, key=task_id, value=TaskEvent(task_ids=[task_id]).model_dump_json())
# Unlike the seed's scripts, wait for the send: kafka-python's exit hook
# flushes with a zero timeout, so a message can be lost on exit.
kafka_proxy.producer.flush(timeout=30)
