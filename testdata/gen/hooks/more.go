package hooks

import "context"

//skald:release
func (w *Full) Release(ctx context.Context) error { return nil }

//skald:update
func (w *Full) Update(ctx context.Context, p Params) error { w.p = p; return nil }

// The package's own names push the generated imports to other names.
var codec, skald = 1, 2
