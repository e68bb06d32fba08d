module github.com/skalds-go/skalds/integration

go 1.26.0

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/skalds-go/skalds v0.0.0
	github.com/skalds-go/skalds/embedded v0.0.0
	github.com/twmb/franz-go/pkg/kmsg v1.15.1
)

require (
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/skalds-go/skalds/example v0.0.0
	go.opentelemetry.io/otel/sdk v1.36.0
)

replace github.com/skalds-go/skalds => ../

replace github.com/skalds-go/skalds/embedded => ../embedded

replace github.com/skalds-go/skalds/example => ../example
