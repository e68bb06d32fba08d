# Runs Python Skalds' SystemController in MONITOR mode (its SkaldMonitor
# fills the node registry that /api/skalds reads; CONTROLLER mode leaves it
# empty), on 127.0.0.1 and the port in SYSTEM_CONTROLLER_PORT, against the
# servers in the environment.
import os
from addresses import KAFKA_HOST, KAFKA_PORT, MONGO_HOST, REDIS_HOST, REDIS_PORT
from skalds.config._enum import SystemControllerModeEnum
from skalds.config.system_controller_config import SystemControllerConfig
from skalds.system_controller.main import SystemController

config = SystemControllerConfig(
    system_controller_mode=SystemControllerModeEnum.MONITOR,
    system_controller_host="127.0.0.1",
    system_controller_port=int(os.environ["SYSTEM_CONTROLLER_PORT"]),
    log_path=os.environ.get("LOG_PATH", "logs"),
    redis_host=REDIS_HOST,
    redis_port=REDIS_PORT,
    kafka_host=KAFKA_HOST,
    kafka_port=KAFKA_PORT,
    mongo_host=MONGO_HOST,
)

if __name__ == "__main__":
    SystemController(config).run()
