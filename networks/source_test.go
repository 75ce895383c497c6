package networks

import _ "embed"

//go:embed presets.go
var presetsSource string
