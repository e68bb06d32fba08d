package controller

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLoadConfigReadsTheClaimCap(t *testing.T) {
	env := func(vals map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	}
	c, err := loadConfig(Config{}, env(nil))
	if err != nil || c.MaxClaimsPerCycle != 500 {
		t.Fatalf("default: %d, %v", c.MaxClaimsPerCycle, err)
	}
	c, err = loadConfig(Config{}, env(map[string]string{"DISPATCHER_MAX_CLAIMS_PER_CYCLE": "40"}))
	if err != nil || c.MaxClaimsPerCycle != 40 {
		t.Fatalf("from env: %d, %v", c.MaxClaimsPerCycle, err)
	}
	if _, err = loadConfig(Config{}, env(map[string]string{"DISPATCHER_MAX_CLAIMS_PER_CYCLE": "-1"})); err == nil {
		t.Fatal("a negative cap was accepted")
	}
}

func TestReportMasksSecrets(t *testing.T) {
	c, err := loadConfig(Config{Token: "tok-secret"}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	c.Infra.MongoHost = "mongodb://root:mongo-secret@db:27017/"
	c.Infra.RedisPassword, c.Infra.KafkaPassword = "redis-secret", "kafka-secret"
	b, err := json.Marshal(c.Report())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"tok-secret", "mongo-secret", "redis-secret", "kafka-secret"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the report shows %s: %s", secret, b)
		}
	}
	if !strings.Contains(string(b), `"auth":{"enabled":true}`) || !strings.Contains(string(b), `"port":8000`) {
		t.Errorf("report %s", b)
	}
}
