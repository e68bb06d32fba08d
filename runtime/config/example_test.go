package config_test

import (
	"fmt"

	"github.com/skalds-go/skalds/runtime/config"
)

// A value set in code wins over the environment, which wins over the
// default.
func ExampleLoad() {
	cfg, err := config.Load(config.Config{SkaldID: "skald_123", KafkaHost: "127.0.0.1", MongoHost: "mongodb://127.0.0.1:27017/"})
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.SkaldID, cfg.Mode, cfg.KafkaAddr(), cfg.DBName)
	// Output: skald_123 node 127.0.0.1:9092 skalds
}
