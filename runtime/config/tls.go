package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// TLS says how a link to a server is encrypted. The zero value is a plain
// TCP link.
type TLS struct {
	// Enabled turns TLS on. With no other field set, the server's
	// certificate is checked against the system's roots and its host name.
	Enabled bool
	// CAFile is a PEM bundle of the authorities that sign the server's
	// certificate, for servers with a private CA.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that require mutual TLS. Both or neither.
	CertFile, KeyFile string
	// ServerName is the name the server's certificate must carry, when it
	// is not the host name dialled (an IP address, a tunnel).
	ServerName string
	// InsecureSkipVerify accepts any server certificate. It keeps the link
	// encrypted but not authenticated, so a man in the middle can read it:
	// for tests only. A node logs a warning when it is set.
	InsecureSkipVerify bool
}

// Config returns the client TLS configuration, or nil when TLS is off. An
// unreadable or malformed file is an error naming the variable prefix
// (for example REDIS_TLS_CA_FILE) that set it.
func (t TLS) Config(prefix string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented as test-only
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s_CA_FILE: %w", prefix, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s_CA_FILE=%s holds no PEM certificate", prefix, t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("%s_CERT_FILE and %s_KEY_FILE go together: set both for a client certificate, or neither", prefix, prefix)
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s_CERT_FILE/%s_KEY_FILE: %w", prefix, prefix, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// String is a short description for logs: off, on, or on with the
// certificate check turned off.
func (t TLS) String() string {
	switch {
	case !t.Enabled:
		return "off"
	case t.InsecureSkipVerify:
		return "on-unverified"
	}
	return "on"
}

// loadTLS fills the unset fields of *t from the variables prefix_CA_FILE,
// prefix_CERT_FILE, prefix_KEY_FILE, prefix_SERVER_NAME and
// prefix_INSECURE_SKIP_VERIFY, and then checks that the files can be
// used, so that a wrong path fails at start rather than at the first
// connection.
func (e *Env) loadTLS(t *TLS, prefix string) {
	e.String(&t.CAFile, prefix+"_CA_FILE", "")
	e.String(&t.CertFile, prefix+"_CERT_FILE", "")
	e.String(&t.KeyFile, prefix+"_KEY_FILE", "")
	e.String(&t.ServerName, prefix+"_SERVER_NAME", "")
	e.Bool(&t.InsecureSkipVerify, prefix+"_INSECURE_SKIP_VERIFY")
	if _, err := t.Config(prefix); err != nil {
		e.Errorf("%v", err)
	}
}

// String sets an empty *dst from variable name, or else to def.
func (e *Env) String(dst *string, name, def string) {
	if *dst != "" {
		return
	}
	if v, ok := e.lookup(name); ok {
		*dst = v
		return
	}
	*dst = def
}

// Bool sets a false *dst from variable name, read as true/false, 1/0,
// yes/no; an empty variable leaves it false.
func (e *Env) Bool(dst *bool, name string) {
	if *dst {
		return
	}
	v, ok := e.lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		return
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "y":
		*dst = true
		return
	case "no", "n":
		return
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		e.Errorf("%s=%q is not true or false", name, v)
		return
	}
	*dst = b
}

// Kafka security protocols, named as Kafka's security.protocol names them.
const (
	KafkaPlaintext     = "PLAINTEXT"      // no TLS, no SASL
	KafkaSSL           = "SSL"            // TLS, no SASL
	KafkaSASLPlaintext = "SASL_PLAINTEXT" // SASL over plain TCP: the password crosses in clear with PLAIN
	KafkaSASLSSL       = "SASL_SSL"       // SASL over TLS
)

// Kafka SASL mechanisms, named as Kafka names them.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// loadSecurity reads the TLS and authentication settings of the Kafka
// and Redis links (MongoDB's are in its URI).
func (e *Env) loadSecurity(c *Config) {
	e.String(&c.KafkaSecurityProtocol, "KAFKA_SECURITY_PROTOCOL", "")
	c.KafkaSecurityProtocol = strings.ToUpper(strings.TrimSpace(c.KafkaSecurityProtocol))
	if c.KafkaSecurityProtocol == "" {
		// Credentials alone mean SASL over TLS, as Python Skalds uses them
		// (it sends them only to Confluent Cloud, over SASL_SSL): a
		// password is never sent in clear unless asked for by name.
		switch {
		case c.KafkaUsername != "":
			c.KafkaSecurityProtocol = KafkaSASLSSL
		case c.KafkaTLS.Enabled:
			c.KafkaSecurityProtocol = KafkaSSL
		default:
			c.KafkaSecurityProtocol = KafkaPlaintext
		}
	}
	e.String(&c.KafkaSASLMechanism, "KAFKA_SASL_MECHANISM", SASLPlain)
	c.KafkaSASLMechanism = strings.ToUpper(strings.TrimSpace(c.KafkaSASLMechanism))
	switch c.KafkaSASLMechanism {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
	default:
		e.Errorf("KAFKA_SASL_MECHANISM=%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.KafkaSASLMechanism)
	}
	switch c.KafkaSecurityProtocol {
	case KafkaPlaintext, KafkaSSL:
	case KafkaSASLPlaintext, KafkaSASLSSL:
		if c.KafkaUsername == "" {
			e.Errorf("KAFKA_SECURITY_PROTOCOL=%s needs KAFKA_USERNAME and KAFKA_PASSWORD", c.KafkaSecurityProtocol)
		}
	default:
		e.Errorf("KAFKA_SECURITY_PROTOCOL=%q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", c.KafkaSecurityProtocol)
	}
	c.KafkaTLS.Enabled = c.KafkaSecurityProtocol == KafkaSSL || c.KafkaSecurityProtocol == KafkaSASLSSL
	e.loadTLS(&c.KafkaTLS, "KAFKA_TLS")

	e.String(&c.RedisUsername, "REDIS_USERNAME", "")
	e.Bool(&c.RedisTLS.Enabled, "REDIS_TLS")
	e.loadTLS(&c.RedisTLS, "REDIS_TLS")
}

// KafkaSASL reports whether the Kafka link authenticates with SASL.
func (c Config) KafkaSASL() bool {
	return c.KafkaSecurityProtocol == KafkaSASLPlaintext || c.KafkaSecurityProtocol == KafkaSASLSSL
}
