# Cancels task_123 as Python tools do: a bare task.cancel, without writing
# MongoDB first. A Python node stops the worker on it.
from addresses import KAFKA_HOST, KAFKA_PORT
from skalds.proxy.kafka import KafkaConfig, KafkaProxy, KafkaTopic
from skalds.model.event import TaskEvent

kafka_proxy = KafkaProxy(KafkaConfig(host=KAFKA_HOST, port=KAFKA_PORT))
task_id = "task_123"
kafka_proxy.produce(KafkaTopic.TASK_CANCEL, key=task_id, value=TaskEvent(task_ids=[task_id]).model_dump_json())
# Unlike the seed's scripts, wait for the send: kafka-python's exit hook
# flushes with a zero timeout, so a message can be lost on exit.
kafka_proxy.producer.flush(timeout=30)
