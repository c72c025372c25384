// Command proxy pools OpenAI and ChatGPT accounts behind one Responses API
// base URL. See README.md.
package main

import (
	"os"

	"github.com/proxy-dev/proxy/pkg/cmd/root"
)

func main() {
	os.Exit(root.Main())
}
