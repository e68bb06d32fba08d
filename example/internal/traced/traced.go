// Package traced connects the example scripts' client with tracing on
// when the environment asks for it (OTEL_EXPORTER_OTLP_ENDPOINT), so that
// a script's call and the node hooks it causes are one trace.
package traced

import (
	"context"
	"errors"

	"github.com/skalds-go/skalds/runtime/client"
	"github.com/skalds-go/skalds/runtime/config"
	"github.com/skalds-go/skalds/tracing"
)

// Client is client.New with the servers of the environment, traced as
// tracing.FromEnv says under the service name service. Its closeAll closes
// the client and then flushes the spans.
func Client(ctx context.Context, service string) (c *client.Client, closeAll func() error, err error) {
	tp, shutdown, err := tracing.FromEnv(ctx, service)
	if err != nil {
		return nil, nil, err
	}
	c, err = client.NewWith(ctx, config.Config{}, client.Options{TracerProvider: tp})
	if err != nil {
		_ = shutdown(context.Background())
		return nil, nil, err
	}
	return c, func() error { return errors.Join(c.Close(), shutdown(context.Background())) }, nil
}
