package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestPrecedence(t *testing.T) {
	e := env(map[string]string{
		"SKALD_ID":      "from-env",
		"KAFKA_PORT":    "19092",
		"REDIS_HOST":    "redis.internal",
		"REDIS_KEY_TTL": "60",
	})
	c, err := load(Config{SkaldID: "explicit", RedisPort: 7000}, e)
	if err != nil {
		t.Fatal(err)
	}
	for _, check := range []struct {
		name      string
		got, want any
	}{
		{"explicit beats env", c.SkaldID, "explicit"},
		{"env beats default", c.KafkaPort, 19092},
		{"env string", c.RedisHost, "redis.internal"},
		{"explicit without env", c.RedisPort, 7000},
		{"default", c.KafkaHost, "localhost"},
		{"default mode", c.Mode, ModeNode},
		{"default mongo", c.MongoHost, "mongodb://root:root@localhost:27017/"},
		{"default db", c.DBName, "skalds"},
		{"seconds from env", c.RedisKeyTTL, 60 * time.Second},
		{"default seconds", c.RedisSyncPeriod, 3 * time.Second},
	} {
		if check.got != check.want {
			t.Errorf("%s: got %v, want %v", check.name, check.got, check.want)
		}
	}
}

func TestRandomSkaldID(t *testing.T) {
	c, err := load(Config{}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.SkaldID, "skalds-") || len(c.SkaldID) != len("skalds-")+5 {
		t.Fatalf("SkaldID %q, want skalds- and 5 characters", c.SkaldID)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	_, err := load(Config{}, env(map[string]string{"KAFKA_PORT": "ninety", "SKALD_MODE": "NODE"}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`KAFKA_PORT="ninety"`, `SKALD_MODE="NODE"`, "lower case"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestStringMasksSecrets(t *testing.T) {
	c, _ := load(Config{MongoHost: "mongodb://root:hunter2@db:27017/", KafkaPassword: "pw", RedisPassword: "pw2"}, env(nil))
	s := c.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "pw") {
		t.Fatalf("String leaks a secret: %s", s)
	}
	if !strings.Contains(s, "mongodb://root:******@db:27017/") {
		t.Fatalf("String does not show the masked URI: %s", s)
	}
}

func TestMaskURIHidesPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"mongodb://root:s3cret@db:27017/":               "mongodb://root:******@db:27017/",
		"mongodb://db:27017/":                           "mongodb://db:27017/",
		"mongodb://u@db/?authSource=admin":              "mongodb://u@db/?authSource=admin",
		"mongodb://db/?password=p&replicaSet=rs0":       "mongodb://db/?password=******&replicaSet=rs0",
		"mongodb+srv://a:b@cluster.example.com/x?w=maj": "mongodb+srv://a:******@cluster.example.com/x?w=maj",
	} {
		if got := MaskURI(in); got != want {
			t.Errorf("MaskURI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskErrorTakesCredentialsOutOfDriverErrors(t *testing.T) {
	for _, c := range []struct{ uri, driver string }{
		{"mongodb://app:s3cr%etpw@db:27017/", `error parsing uri: invalid password: invalid URL escape "%et"`},
		{"mongodb://app:mongo%pw-1@db:27017/", `error parsing uri: invalid password: invalid URL escape "%pw"`},
		{"mongodb://app:s3cr%etpw@db:27017/", `error parsing uri: invalid password: invalid URL escape "%etpw"`},
		{"mongodb://app:hunter22@db:notaport/", `connecting to mongodb://app:hunter22@db:notaport/: refused`},
		{"mongodb://app:hunter%2122@db/", `auth failed for password hunter!22`},
		{"mongodb://db/?password=topsecret1", `bad option password=topsecret1`},
	} {
		err := MaskError(errors.New(c.driver), c.uri)
		for _, secret := range []string{"s3cr", "etpw", "hunter", "topsecret", "%pw", "%et"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("MaskError(%q) = %q: still holds %q", c.driver, err, secret)
			}
		}
	}
	plain := errors.New("server selection error: context deadline exceeded")
	if got := MaskError(plain, "mongodb://app:hunter22@db/"); got != plain {
		t.Errorf("an error without secrets was replaced: %v", got)
	}
}
