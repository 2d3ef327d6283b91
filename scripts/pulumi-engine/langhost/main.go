// Command pulumi-language-python is a small Python language host for the Pulumi engine, written for the
// Paybill Infra tooling.
//
// Why it exists: the Pulumi CLI is built here from the Go module proxy, but this machine's proxy mirror refuses
// the official host module (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 answers
// "403 Forbidden ... This module version is not available." for every version). Without a host named
// `pulumi-language-<runtime>`, `pulumi up`/`preview`/`refresh`/`destroy` on a Pulumi.yaml project with
// `runtime: python` cannot start. This host fills that gap. It is built by the same wrapper module as the CLI
// (scripts/pulumi-engine) against sdk/v3, and the binary must be installed next to `pulumi` together with the
// `pulumi-language-python-exec` executor script (shipped in the sdk/v3 module zip at
// python/cmd/pulumi-language-python-exec) and `pulumi-resource-pulumi-python` (for dynamic providers).
//
// What it does: it serves pulumirpc.LanguageRuntime over gRPC (port printed on stdout) and runs the user's real
// program through the executor script with the project's Python, against the real engine and resource monitor.
//
// Supported:
//   - plugin startup: engine address as the last positional argument; -tracing, -root, -use-executor, -binary,
//     -virtualenv, -logtostderr, -logflow and -v are accepted (only -tracing, -use-executor and the logging
//     flags have an effect); unknown flags are ignored with a log line instead of failing.
//   - Handshake, GetPluginInfo (reports the sdk/v3 version it was built against, e.g. 3.274.1).
//   - Run: executes `<python> -u pulumi-language-python-exec ...` with monitor/engine addresses, project, stack,
//     organization, root directory, pwd, dry-run and parallelism as arguments, and the configuration in
//     PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS. The runtime options `virtualenv` (relative to the project root)
//     and `toolchain` (pip, uv, poetry; resolved with sdk/v3/python/toolchain) are honoured; with a virtualenv,
//     VIRTUAL_ENV, PATH and PULUMI_RUNTIME_VIRTUALENV point at it. Without one, PULUMI_PYTHON_CMD or python3 is
//     used. Program output goes straight to this host's stdout/stderr (the engine displays it). A program that
//     already reported its error (executor exit code 32) yields RunResponse.Bail; other failures yield an error.
//   - GetRequiredPlugins / GetRequiredPackages: always empty. Our programs only use ComponentResources and Python
//     dynamic providers (served by `pulumi-resource-pulumi-python`, which is not a downloadable plugin), so there
//     is nothing to pre-install. Programs that use provider packages such as pulumi-aws would need their plugins
//     installed by hand (`pulumi plugin install`), because automatic acquisition cannot learn about them here.
//   - InstallDependencies: creates the virtualenv and installs requirements.txt when the virtualenv is missing
//     (uv/poetry: the toolchain's own "ensure venv" step); an existing virtualenv is left as it is. Output is
//     streamed back to the caller.
//   - About, GetProgramDependencies (`pip list --format json` of the environment, empty on failure),
//     RuntimeOptionsPrompts (no prompts).
//   - RunPlugin: policy packs (kind "analyzer") run as `python -u -m pulumi.policy <engine args> <pack dir>`,
//     other plugin kinds as `python -u <plugin dir> <args>`, in the plugin's own virtualenv.
//
// Not supported (left to the embedded Unimplemented server, so callers get codes.Unimplemented): Template,
// GenerateProgram, GenerateProject, GeneratePackage, Pack, Link, Cancel. Also not supported: the `typechecker`
// runtime option (mypy/pyright are not run; a warning is printed), debugger attachment (attach_debugger is
// ignored with a warning), pyenv/"language version tools", and the loader/mapper targets of RunRequest (the
// Python SDK does not consume them).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

const (
	hostName = "pulumi-language-python"

	// executorName is the Python script that configures the SDK and runs the user's program. It is expected to
	// sit next to this binary.
	executorName = "pulumi-language-python-exec"

	// fallbackVersion is reported when the build information does not name the sdk/v3 module version.
	fallbackVersion = "3.274.1"

	// exitCodeAlreadyReported is the executor's exit code for "the error was already shown to the user".
	exitCodeAlreadyReported = 32

	// gracePeriod is how long a child gets to exit after an interrupt before it is killed.
	gracePeriod = 10 * time.Second
)

// hostFlags are the command line settings the engine (or a developer) can pass.
type hostFlags struct {
	engineAddress string
	tracing       string
	root          string
	executor      string
	verbose       int
	logToStderr   bool
	logFlow       bool
	ignored       []string
}

// parseFlags reads the command line leniently. Go's flag package stops with an error on an unknown flag, which
// would kill the plugin at startup whenever a newer engine adds one, so this accepts both "-x v" and "-x=v" for the
// flags it knows, treats unknown flags as booleans unless written "-x=v", and takes the engine address from the
// last positional argument (the engine always passes it last).
func parseFlags(args []string) hostFlags {
	var f hostFlags
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		takeValue := func() string {
			if hasValue {
				return value
			}
			if i+1 < len(args) {
				i++
				return args[i]
			}
			return ""
		}
		switch name {
		case "tracing":
			f.tracing = takeValue()
		case "root":
			f.root = takeValue()
		case "use-executor":
			f.executor = takeValue()
		case "binary", "virtualenv":
			// Accepted for compatibility with other hosts and older engines; the virtualenv comes from the
			// runtime options of each request instead.
			f.ignored = append(f.ignored, arg+" "+takeValue())
		case "v", "verbose":
			v := value
			if !hasValue && i+1 < len(args) {
				if _, err := strconv.Atoi(args[i+1]); err == nil {
					i++
					v = args[i]
				}
			}
			if n, err := strconv.Atoi(v); err == nil {
				f.verbose = n
			}
		case "logtostderr", "logflow":
			b := true
			if hasValue {
				if parsed, err := strconv.ParseBool(value); err == nil {
					b = parsed
				}
			}
			if name == "logtostderr" {
				f.logToStderr = b
			} else {
				f.logFlow = b
			}
		default:
			f.ignored = append(f.ignored, arg)
		}
	}
	if len(positional) > 0 {
		f.engineAddress = positional[len(positional)-1]
		if len(positional) > 1 {
			f.ignored = append(f.ignored, positional[:len(positional)-1]...)
		}
	}
	return f
}

func main() {
	flags := parseFlags(os.Args[1:])
	logging.InitLogging(flags.logToStderr, flags.verbose, flags.logFlow)
	cmdutil.InitTracing(hostName, hostName, flags.tracing)
	defer cmdutil.CloseTracing()
	if len(flags.ignored) > 0 {
		logging.V(3).Infof("%s: ignoring arguments %q", hostName, flags.ignored)
	}

	executor, err := findExecutor(flags.executor)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", hostName, err)
		os.Exit(1)
	}
	logging.V(3).Infof("%s: using executor %s", hostName, executor)

	host := &pythonHost{
		executor:      executor,
		tracing:       flags.tracing,
		engineAddress: flags.engineAddress,
		rootDir:       flags.root,
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OTelServerInterceptorOptions(),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: could not start the gRPC server: %v\n", hostName, err)
		os.Exit(1)
	}

	// The engine reads the first line of stdout to learn where to connect.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "%s: gRPC server stopped: %v\n", hostName, err)
		os.Exit(1)
	}
}

// findExecutor returns the executor script: the -use-executor value if given, otherwise the script installed in
// the same directory as this binary.
func findExecutor(given string) (string, error) {
	if given != "" {
		abs, err := filepath.Abs(given)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("executor given with -use-executor: %w", err)
		}
		return abs, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot locate this executable: %w", err)
	}
	candidate := filepath.Join(filepath.Dir(self), executorName)
	if _, err := os.Stat(candidate); err != nil {
		return "", fmt.Errorf("the executor %s must be installed next to %s: %w", executorName, self, err)
	}
	return candidate, nil
}

// sdkVersion is the version of github.com/pulumi/pulumi/sdk/v3 this binary was built with.
func sdkVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/pulumi/pulumi/sdk/v3" {
				mod := dep
				if dep.Replace != nil {
					mod = dep.Replace
				}
				if v := strings.TrimPrefix(mod.Version, "v"); v != "" && v != "(devel)" {
					return v
				}
			}
		}
	}
	return fallbackVersion
}

// pythonHost implements pulumirpc.LanguageRuntimeServer.
type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	executor string
	tracing  string

	mu            sync.Mutex
	engineAddress string
	rootDir       string
	programDir    string
}

func (h *pythonHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake records the engine address and, when given, the directories of the program.
func (h *pythonHost) Handshake(ctx context.Context,
	req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	if req.RootDirectory != nil {
		h.rootDir = req.GetRootDirectory()
	}
	if req.ProgramDirectory != nil {
		h.programDir = req.GetProgramDirectory()
	}
	logging.V(5).Infof("%s: handshake engine=%s root=%s program=%s", hostName, h.engineAddress, h.rootDir,
		h.programDir)
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(ctx context.Context, _ *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: sdkVersion()}, nil
}

// GetRequiredPlugins reports no plugins: see the package comment (ComponentResources and Python dynamic
// providers need no downloadable plugin).
func (h *pythonHost) GetRequiredPlugins(ctx context.Context,
	req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// GetRequiredPackages reports no packages, for the same reason as GetRequiredPlugins.
func (h *pythonHost) GetRequiredPackages(ctx context.Context,
	req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *pythonHost) RuntimeOptionsPrompts(ctx context.Context,
	req *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// project describes where a program lives and how its Python environment is configured.
type project struct {
	root        string // directory of Pulumi.yaml (or PulumiPolicy.yaml / PulumiPlugin.yaml)
	programDir  string // directory of the program
	entryPoint  string // relative to programDir; "." means programDir/__main__.py
	virtualenv  string // the `virtualenv` runtime option as written
	toolchain   string // the `toolchain` runtime option as written ("" means pip)
	typechecker string // the `typechecker` runtime option as written (unsupported)
}

// projectFrom builds a project from a request's ProgramInfo, falling back to the given directory (and to the
// directories learned at handshake) for requests from older engines that do not send one.
func (h *pythonHost) projectFrom(info *pulumirpc.ProgramInfo, fallbackDir, fallbackEntry string) (project, error) {
	h.mu.Lock()
	p := project{root: h.rootDir, programDir: h.programDir}
	h.mu.Unlock()

	if info != nil {
		if info.GetRootDirectory() != "" {
			p.root = info.GetRootDirectory()
		}
		if info.GetProgramDirectory() != "" {
			p.programDir = info.GetProgramDirectory()
		}
		p.entryPoint = info.GetEntryPoint()
		if opts := info.GetOptions(); opts != nil {
			m := opts.AsMap()
			str := func(key string) (string, error) {
				v, ok := m[key]
				if !ok || v == nil {
					return "", nil
				}
				s, ok := v.(string)
				if !ok {
					return "", fmt.Errorf("the %q runtime option in Pulumi.yaml must be a string, got %T", key, v)
				}
				return s, nil
			}
			var err error
			if p.virtualenv, err = str("virtualenv"); err != nil {
				return p, err
			}
			if p.toolchain, err = str("toolchain"); err != nil {
				return p, err
			}
			if p.typechecker, err = str("typechecker"); err != nil {
				return p, err
			}
		}
	}
	if p.programDir == "" {
		p.programDir = fallbackDir
	}
	if p.root == "" {
		p.root = p.programDir
	}
	if p.entryPoint == "" {
		p.entryPoint = fallbackEntry
	}
	if p.entryPoint == "" {
		p.entryPoint = "."
	}
	if p.programDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return p, err
		}
		p.programDir, p.root = wd, wd
	}
	return p, nil
}

// virtualenvPath is the absolute virtualenv directory, or "" when none is configured.
func (p project) virtualenvPath() string {
	if p.virtualenv == "" {
		return ""
	}
	if filepath.IsAbs(p.virtualenv) {
		return filepath.Clean(p.virtualenv)
	}
	return filepath.Join(p.root, p.virtualenv)
}

// resolveToolchain picks the sdk/v3 toolchain implementation for the project.
func (p project) resolveToolchain() (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{
		Root:       p.root,
		ProgramDir: p.programDir,
		Virtualenv: p.virtualenv,
		Toolchain:  toolchain.Pip,
	}
	switch strings.ToLower(p.toolchain) {
	case "", "pip":
	case "uv":
		opts.Toolchain = toolchain.Uv
	case "poetry":
		opts.Toolchain = toolchain.Poetry
	default:
		return nil, fmt.Errorf("unsupported toolchain %q in the runtime options of Pulumi.yaml "+
			"(this host supports pip, uv and poetry)", p.toolchain)
	}
	return toolchain.ResolveToolchain(opts)
}

// pythonCommand returns a command running the project's Python with args, together with the environment it
// should run in (based on base) and the virtualenv directory in use ("" for the ambient Python).
func pythonCommand(ctx context.Context, p project, base []string, args ...string,
) (*exec.Cmd, []string, string, error) {
	tc, err := p.resolveToolchain()
	if err != nil {
		return nil, nil, "", err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, nil, "", err
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, nil, "", err
	}
	venv, err := tc.VirtualEnvPath(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	env := base
	if venv != "" && toolchain.IsVirtualEnv(venv) {
		env = toolchain.ActivateVirtualEnv(base, venv)
		// Read by pulumi-resource-pulumi-python (dynamic providers) to find the same environment.
		env = append(env, "PULUMI_RUNTIME_VIRTUALENV="+venv)
	} else {
		venv = ""
	}
	return cmd, env, venv, nil
}

// interruptOnCancel makes a cancelled context interrupt the child first and kill it only after a grace period.
func interruptOnCancel(cmd *exec.Cmd) {
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = gracePeriod
}

// Run executes the user's program through the executor script.
func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	p, err := h.projectFrom(req.GetInfo(), req.GetPwd(), req.GetProgram()) //nolint:staticcheck // fallback only
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	if p.typechecker != "" {
		fmt.Fprintf(os.Stderr, "warning: the %q typechecker option is not supported by this language host; "+
			"the program is run without type checking\n", p.typechecker)
	}
	if req.GetAttachDebugger() {
		fmt.Fprintln(os.Stderr, "warning: attaching a debugger is not supported by this language host")
	}

	pwd := req.GetPwd()
	if pwd == "" {
		pwd = p.programDir
	}
	program := p.entryPoint
	if !filepath.IsAbs(program) {
		program = filepath.Join(p.programDir, program)
	}

	args := []string{"-u", h.executor}
	addArg := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	addArg("monitor", req.GetMonitorAddress())
	addArg("engine", h.engine())
	addArg("project", req.GetProject())
	addArg("stack", req.GetStack())
	addArg("organization", req.GetOrganization())
	addArg("root_directory", p.root)
	addArg("pwd", pwd)
	addArg("dry_run", strconv.FormatBool(req.GetDryRun()))
	// The executor converts this with int() unconditionally, so it must always be present.
	addArg("parallel", strconv.Itoa(int(req.GetParallel())))
	addArg("tracing", h.tracing)
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	configJSON, err := json.Marshal(nonNilMap(req.GetConfig()))
	if err != nil {
		return nil, fmt.Errorf("serializing configuration: %w", err)
	}
	secretKeys := append([]string{}, req.GetConfigSecretKeys()...)
	sort.Strings(secretKeys)
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing secret configuration keys: %w", err)
	}

	cmd, env, venv, err := pythonCommand(ctx, p, os.Environ(), args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	cmd.Env = append(env,
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
		"PULUMI_ROOT_DIRECTORY="+p.root,
	)
	cmd.Dir = pwd
	cmd.Stdin = nil
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	interruptOnCancel(cmd)

	logging.V(5).Infof("%s: running %s %q (virtualenv %q)", hostName, cmd.Path, cmd.Args[1:], venv)
	err = cmd.Run()
	if err == nil {
		return &pulumirpc.RunResponse{}, nil
	}

	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("could not run the Python executor %s with %s: %v", h.executor, cmd.Path, err),
		}, nil
	}
	if ctx.Err() != nil {
		return &pulumirpc.RunResponse{Error: "the Python program was cancelled: " + ctx.Err().Error()}, nil
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Program terminated by signal: %v", ws.Signal()),
		}, nil
	}
	code := exitErr.ExitCode()
	if code == exitCodeAlreadyReported {
		return &pulumirpc.RunResponse{Bail: true}, nil
	}
	return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", code)}, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// lockedStream serializes Send calls: a child's stdout and stderr are copied by two goroutines, and a gRPC
// stream must not be written concurrently.
type lockedStream[T any] struct {
	grpc.ServerStreamingServer[T]
	mu sync.Mutex
}

func (s *lockedStream[T]) Send(m *T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ServerStreamingServer.Send(m)
}

// InstallDependencies makes sure the virtualenv exists: when it is missing it is created and requirements.txt
// (if any) installed into it; an existing virtualenv is not touched.
func (h *pythonHost) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	p, err := h.projectFrom(req.GetInfo(), req.GetDirectory(), ".") //nolint:staticcheck // fallback only
	if err != nil {
		return err
	}
	stream := &lockedStream[pulumirpc.InstallDependenciesResponse]{ServerStreamingServer: server}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(stream, req.GetIsTerminal())
	if err != nil {
		return err
	}
	err = h.installDependencies(server.Context(), p, req.GetUseLanguageVersionTools(), stdout, stderr)
	if cerr := closer.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

func (h *pythonHost) installDependencies(ctx context.Context, p project, useVersionTools bool,
	stdout, stderr io.Writer,
) error {
	tc, err := p.resolveToolchain()
	if err != nil {
		return err
	}
	if useVersionTools {
		fmt.Fprintln(stderr, "warning: language version tools (pyenv) are not supported by this language host")
	}
	venv := p.virtualenvPath()
	if p.toolchain == "" || strings.EqualFold(p.toolchain, "pip") {
		switch {
		case venv == "":
			fmt.Fprintln(stdout, "No virtualenv is configured in Pulumi.yaml; nothing to install "+
				"(dependencies of the ambient Python are not managed by this language host).")
			return nil
		case toolchain.IsVirtualEnv(venv):
			fmt.Fprintf(stdout, "Virtual environment %s already exists; leaving it unchanged.\n", venv)
			return nil
		}
	}
	if err := tc.EnsureVenv(ctx, p.programDir, false, true, stdout, stderr); err != nil {
		return err
	}
	return tc.ValidateVenv(ctx)
}

// About describes the Python interpreter the project uses.
func (h *pythonHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	p, err := h.projectFrom(req.GetInfo(), "", ".")
	if err != nil {
		return nil, err
	}
	tc, err := p.resolveToolchain()
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	meta := map[string]string{"toolchain": "pip", "host": hostName + " (paybill)"}
	if p.toolchain != "" {
		meta["toolchain"] = strings.ToLower(p.toolchain)
	}
	if info.ToolchainVersion.String() != "0.0.0" {
		meta["toolchainVersion"] = info.ToolchainVersion.String()
	}
	if venv := p.virtualenvPath(); venv != "" {
		meta["virtualenv"] = venv
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata:   meta,
	}, nil
}

// GetProgramDependencies lists the packages installed in the project's environment (empty when that fails).
func (h *pythonHost) GetProgramDependencies(ctx context.Context,
	req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	p, err := h.projectFrom(req.GetInfo(), req.GetPwd(), req.GetProgram()) //nolint:staticcheck // fallback only
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	tc, err := p.resolveToolchain()
	if err == nil {
		err = tc.ValidateVenv(ctx)
	}
	if err != nil {
		logging.V(3).Infof("%s: GetProgramDependencies: %v", hostName, err)
		return resp, nil
	}
	deps, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		logging.V(3).Infof("%s: GetProgramDependencies: %v", hostName, err)
		return resp, nil
	}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return resp, nil
}

// RunPlugin runs a plugin written in Python (a policy pack, or a PulumiPlugin.yaml plugin) and streams its output
// back to the engine, ending with its exit code.
func (h *pythonHost) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	ctx := server.Context()
	p, err := h.projectFrom(req.GetInfo(), req.GetPwd(), req.GetProgram()) //nolint:staticcheck // fallback only
	if err != nil {
		return err
	}
	if req.GetAttachDebugger() {
		logging.V(3).Infof("%s: RunPlugin: attach_debugger is not supported; ignored", hostName)
	}

	target := p.entryPoint
	if !filepath.IsAbs(target) {
		target = filepath.Join(p.programDir, target)
	}
	var args []string
	if req.GetKind() == "analyzer" {
		// pulumi.policy (part of the pulumi package) takes the engine's plugin arguments, ending in the engine
		// address, followed by the policy pack program.
		args = append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
		args = append(args, target)
	} else {
		args = append([]string{"-u", target}, req.GetArgs()...)
	}

	base := req.GetEnv()
	if len(base) == 0 {
		base = os.Environ()
	}
	cmd, env, _, err := pythonCommand(ctx, p, base, args...)
	if err != nil {
		return err
	}
	cmd.Env = env
	cmd.Dir = req.GetPwd()
	if cmd.Dir == "" {
		cmd.Dir = p.programDir
	}
	interruptOnCancel(cmd)

	stream := &lockedStream[pulumirpc.RunPluginResponse]{ServerStreamingServer: server}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(stream, false)
	if err != nil {
		return err
	}
	cmd.Stdout = stdout
	cmd.Stderr = stderr

	logging.V(5).Infof("%s: RunPlugin %s: %s %q", hostName, req.GetName(), cmd.Path, cmd.Args[1:])
	runErr := cmd.Run()
	if err := closer.Close(); err != nil {
		return err
	}
	code := 0
	if runErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(runErr, &exitErr) {
			return fmt.Errorf("could not run plugin %s: %w", req.GetName(), runErr)
		}
		code = exitErr.ExitCode()
	}
	return stream.Send(&pulumirpc.RunPluginResponse{
		Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)},
	})
}
