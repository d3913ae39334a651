// A wrapper module that builds the Dapr runtime (daprd, placement, sentry) from the Go module
// proxy. `go install github.com/dapr/dapr/cmd/daprd@v1.18.1` is refused because dapr's own go.mod
// carries replace directives; a wrapper module that repeats them builds the same binaries.
// Keep DAPR_RUNTIME_VERSION in src/sidecart/versions.py and the require line below in step.
module sidecart.dev/dapr-runtime

go 1.26.4

require github.com/dapr/dapr v1.18.1

// Copied from github.com/dapr/dapr@v1.18.1/go.mod.
replace (
	dubbo.apache.org/dubbo-go/v3 => dubbo.apache.org/dubbo-go/v3 v3.0.3-0.20230118042253-4f159a2b38f3
	gopkg.in/couchbaselabs/gocbconnstr.v1 => github.com/couchbaselabs/gocbconnstr v1.0.5
)

replace (
	github.com/chenzhuoyu/iasm => github.com/chenzhuoyu/iasm v0.9.0
	github.com/chzyer/logex => github.com/chzyer/logex v1.2.1
	github.com/gobwas/pool => github.com/gobwas/pool v0.2.1
	github.com/toolkits/concurrent => github.com/niean/gotools v0.0.0-20151221085310-ff3f51fc5c60
)
