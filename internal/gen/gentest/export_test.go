package gentest

// SchemaOf returns the generated JSON Schema of the models that no worker
// publishes, for the tests of schema and decoder agreement.
func SchemaOf(model string) []byte {
	return []byte(map[string]string{"Stream": schemaStream, "Tagged": schemaTagged}[model])
}
