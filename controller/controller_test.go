package controller

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
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
	if !strings.Contains(string(b), `"auth":{"enabled":true,"insecure":false}`) || !strings.Contains(string(b), `"port":8000`) {
		t.Errorf("report %s", b)
	}
}

func TestAPIIsLoopbackOnlyWithoutAToken(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		return loadConfig(Config{}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	c, err := load(nil)
	if err != nil || c.Addr != "127.0.0.1:8000" || len(c.CORSOrigins) != 0 || c.MaxBody != 1<<20 {
		t.Fatalf("defaults: %v %+v", err, c)
	}
	if c, err = load(map[string]string{"SKALD_API_TOKEN": "t"}); err != nil || c.Addr != "0.0.0.0:8000" {
		t.Fatalf("with a token: %v %q", err, c.Addr)
	}
	for _, host := range []string{"0.0.0.0", "::", "10.1.2.3", "example.com"} {
		_, err := load(map[string]string{"SYSTEM_CONTROLLER_HOST": host})
		if err == nil || !strings.Contains(err.Error(), "SKALD_API_TOKEN") || !strings.Contains(err.Error(), "SKALD_API_INSECURE=true") {
			t.Errorf("host %s without a token: %v", host, err)
		}
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := load(map[string]string{"SYSTEM_CONTROLLER_HOST": host}); err != nil {
			t.Errorf("host %s: %v", host, err)
		}
	}
	if c, err = load(map[string]string{"SYSTEM_CONTROLLER_HOST": "0.0.0.0", "SKALD_API_INSECURE": "true"}); err != nil || !c.Insecure {
		t.Errorf("insecure on purpose: %v %+v", err, c)
	}
	if _, err = load(map[string]string{"SKALD_API_INSECURE": "maybe"}); err == nil || !strings.Contains(err.Error(), "SKALD_API_INSECURE") {
		t.Errorf("bad boolean: %v", err)
	}
	if _, err = load(map[string]string{"SKALD_API_TLS_CERT": "c.pem"}); err == nil || !strings.Contains(err.Error(), "SKALD_API_TLS_KEY") {
		t.Errorf("a certificate without a key: %v", err)
	}
	if _, err = load(map[string]string{"SKALD_API_MAX_BODY": "-1"}); err == nil || !strings.Contains(err.Error(), "SKALD_API_MAX_BODY") {
		t.Errorf("negative body limit: %v", err)
	}
	c, err = load(map[string]string{"SKALD_API_CORS_ORIGINS": " https://a.example , http://b:8080 ", "SKALD_API_MAX_BODY": "2048",
		"SKALD_API_STORE_TIMEOUT": "5"})
	if err != nil || strings.Join(c.CORSOrigins, "|") != "https://a.example|http://b:8080" || c.MaxBody != 2048 || c.StoreTimeout != 5*time.Second {
		t.Errorf("origins and body limit: %v %+v", err, c)
	}
	rep, _ := json.Marshal(c.Report())
	if !strings.Contains(string(rep), `"corsOrigins":["https://a.example","http://b:8080"]`) {
		t.Errorf("report: %s", rep)
	}
}

func TestLoadConfigReadsTheRetention(t *testing.T) {
	env := func(vals map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	}
	for _, c := range []struct {
		env  map[string]string
		want time.Duration
	}{
		{nil, 7 * 24 * time.Hour},
		{map[string]string{"SKALD_TASK_RETENTION": "72h"}, 72 * time.Hour},
		{map[string]string{"SKALD_TASK_RETENTION": "3600"}, time.Hour},
		{map[string]string{"SKALD_TASK_RETENTION": "0"}, -1},
	} {
		got, err := loadConfig(Config{}, env(c.env))
		if err != nil || got.Retention != c.want {
			t.Errorf("%v: retention %v, %v; want %v", c.env, got.Retention, err, c.want)
		}
	}
	_, err := loadConfig(Config{}, env(map[string]string{"SKALD_TASK_RETENTION": "a week", "SKALD_RETENTION_BATCH": "0"}))
	if err == nil || !strings.Contains(err.Error(), "SKALD_TASK_RETENTION") || !strings.Contains(err.Error(), "SKALD_RETENTION_BATCH=0") {
		t.Fatalf("bad retention settings: %v", err)
	}
}
