module github.com/skalds-go/skalds/integration

go 1.26.0

require (
	github.com/skalds-go/skalds v0.0.0
	github.com/skalds-go/skalds/embedded v0.0.0
)

replace github.com/skalds-go/skalds => ../

replace github.com/skalds-go/skalds/embedded => ../embedded
