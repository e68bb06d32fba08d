// Package tracing gives a binary the OpenTelemetry tracer provider that
// the standard environment variables describe, exporting spans with
// OTLP over HTTP. The runtime never imports it: a node, a client or a
// controller takes any trace.TracerProvider in its options, and this
// package is what the project's own binaries pass, so that the exporter
// and its dependencies are linked only into binaries that choose it.
package tracing

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.30.0"
	"go.opentelemetry.io/otel/trace"
)

// Enabled reports whether the environment asks for traces: whether
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is
// set, and OTEL_SDK_DISABLED is not "true".
func Enabled() bool {
	if os.Getenv("OTEL_SDK_DISABLED") == "true" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// FromEnv returns a tracer provider that batches spans to the OTLP/HTTP
// endpoint of the environment, and the function that flushes and stops
// it, to call before the binary exits (it gives up after 5 s). When the
// environment does not ask for traces (see Enabled), it returns a nil
// provider, which turns tracing off, and a shutdown that does nothing.
//
// Everything else comes from the standard variables too, read by the
// exporter and the SDK: OTEL_EXPORTER_OTLP_HEADERS (for example an
// authorization header), OTEL_EXPORTER_OTLP_TIMEOUT, the certificate
// variables, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (the default
// samples every trace a remote parent does not say otherwise about),
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES. service is the service
// name when OTEL_SERVICE_NAME is unset.
func FromEnv(ctx context.Context, service string) (trace.TracerProvider, func(context.Context) error, error) {
	if !Enabled() {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: the OTLP/HTTP exporter (check OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_*): %w", err)
	}
	// Later detectors win: the environment overrides the default name.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName(service)), resource.WithFromEnv())
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return tp, func(ctx context.Context) error {
		// A collector that is gone must not hold the binary's exit.
		ctx, cancel := context.WithTimeout(ctx, shutdownLimit)
		defer cancel()
		return tp.Shutdown(ctx)
	}, nil
}

// shutdownLimit bounds the flush of the last spans at exit.
const shutdownLimit = 5 * time.Second
