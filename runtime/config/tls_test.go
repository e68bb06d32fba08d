package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKafkaCredentialsAloneMeanSASLOverTLS(t *testing.T) {
	c, err := load(Config{}, env(map[string]string{"KAFKA_USERNAME": "skald", "KAFKA_PASSWORD": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.KafkaSecurityProtocol != KafkaSASLSSL || !c.KafkaTLS.Enabled || c.KafkaSASLMechanism != SASLPlain || !c.KafkaSASL() {
		t.Fatalf("protocol %q tls %v mechanism %q: a password must not cross in clear by default",
			c.KafkaSecurityProtocol, c.KafkaTLS.Enabled, c.KafkaSASLMechanism)
	}
	if s := c.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "SASL_SSL PLAIN user skald") {
		t.Fatalf("String() = %s", s)
	}

	c, err = load(Config{}, env(nil))
	if err != nil || c.KafkaSecurityProtocol != KafkaPlaintext || c.KafkaTLS.Enabled || c.KafkaSASL() {
		t.Fatalf("no settings: %q tls %v, %v", c.KafkaSecurityProtocol, c.KafkaTLS.Enabled, err)
	}
}

func TestSecuritySettingsFromTheEnvironment(t *testing.T) {
	c, err := load(Config{}, env(map[string]string{
		"KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "KAFKA_SASL_MECHANISM": "scram-sha-512",
		"KAFKA_USERNAME": "u", "KAFKA_PASSWORD": "p",
		"REDIS_USERNAME": "skald", "REDIS_TLS": "true", "REDIS_TLS_SERVER_NAME": "redis.internal",
		"REDIS_TLS_INSECURE_SKIP_VERIFY": "yes",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.KafkaSecurityProtocol != KafkaSASLPlaintext || c.KafkaTLS.Enabled || c.KafkaSASLMechanism != SASLScramSHA512 {
		t.Fatalf("kafka: %q %v %q", c.KafkaSecurityProtocol, c.KafkaTLS.Enabled, c.KafkaSASLMechanism)
	}
	if c.RedisUsername != "skald" || !c.RedisTLS.Enabled || c.RedisTLS.ServerName != "redis.internal" || !c.RedisTLS.InsecureSkipVerify {
		t.Fatalf("redis: %q %+v", c.RedisUsername, c.RedisTLS)
	}
	tc, err := c.RedisTLS.Config("REDIS_TLS")
	if err != nil || tc == nil || tc.ServerName != "redis.internal" || !tc.InsecureSkipVerify {
		t.Fatalf("tls.Config %+v, %v", tc, err)
	}
	if !strings.Contains(c.String(), "tls on-unverified, user skald") {
		t.Fatalf("String() = %s", c.String())
	}
}

func TestBadSecuritySettingsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "TLS"}, `KAFKA_SECURITY_PROTOCOL="TLS" is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`},
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_USERNAME"},
		{map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, `KAFKA_SASL_MECHANISM="GSSAPI" is not PLAIN`},
		{map[string]string{"REDIS_TLS": "maybe"}, `REDIS_TLS="maybe" is not true or false`},
		{map[string]string{"REDIS_TLS": "1", "REDIS_TLS_CA_FILE": filepath.Join(dir, "missing.pem")}, "REDIS_TLS_CA_FILE: open"},
		{map[string]string{"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_TLS_CA_FILE": notPEM}, "KAFKA_TLS_CA_FILE=" + notPEM + " holds no PEM certificate"},
		{map[string]string{"REDIS_TLS": "1", "REDIS_TLS_CERT_FILE": notPEM}, "REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE go together"},
	} {
		_, err := load(Config{}, env(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.env, err, c.want)
		}
	}
}
