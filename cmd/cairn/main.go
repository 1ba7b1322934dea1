// Command cairn is an S3-compatible object store with an AWS-style
// identity layer. See README.md.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/internal/app"
	"github.com/cairn-io/cairn/internal/config"
	"github.com/cairn-io/cairn/internal/iam"
	"github.com/cairn-io/cairn/internal/policy"
	"github.com/cairn-io/cairn/internal/simulate"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/cairn-io/cairn/internal/sts"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `cairn: an S3-compatible object store with an AWS-style identity layer.

Usage:
  cairn server [flags]        run the server (see 'cairn server -h')
  cairn config check FILE     validate a config file offline
  cairn sts rotate-key --data DIR      add a new active session-token key
  cairn sts retire-key --data DIR ID   remove a key (its tokens stop working)
  cairn sts list-keys --data DIR       show the key ring
  cairn role revoke-sessions --config FILE ROLE   deny the role's sessions issued until now
  cairn role revocations --config FILE            list revoked roles
  cairn iam show --data DIR                       list identities created through the IAM API
  cairn policy simulate --config FILE --principal ARN --action A --resource R [--bucket-policy FILE] [--context k=v]...
  cairn version               print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "version", "--version", "-v":
		fmt.Println("cairn", version)
	case "config":
		err = runConfig(os.Args[2:])
	case "sts":
		err = runSTS(os.Args[2:])
	case "role":
		err = runRole(os.Args[2:])
	case "policy":
		err = runPolicy(os.Args[2:])
	case "iam":
		err = runIAM(os.Args[2:])
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "cairn: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(1)
	}
}

func runConfig(args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return errors.New("usage: cairn config check FILE")
	}
	if _, err := config.Load(args[1]); err != nil {
		return err
	}
	fmt.Printf("config %s: OK\n", args[1])
	return nil
}

func runSTS(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: cairn sts rotate-key|retire-key|list-keys --data DIR [ID]")
	}
	fs := flag.NewFlagSet("sts "+args[0], flag.ContinueOnError)
	data := fs.String("data", "./cairn-data", "data directory")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "rotate-key":
		id, err := sts.RotateKey(*data)
		if err != nil {
			return err
		}
		fmt.Printf("new active key %s; restart cairn (or reload) to use it. Older keys validate their tokens until retired.\n", id)
	case "retire-key":
		if fs.NArg() != 1 {
			return errors.New("usage: cairn sts retire-key --data DIR ID")
		}
		if err := sts.RetireKey(*data, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Printf("retired key %s: its session tokens stop validating after a restart\n", fs.Arg(0))
	case "list-keys":
		keys, err := sts.ListKeys(*data)
		if err != nil {
			return err
		}
		for _, k := range keys {
			fmt.Println(k)
		}
	default:
		return fmt.Errorf("unknown sts command %q", args[0])
	}
	return nil
}

func runRole(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: cairn role revoke-sessions|revocations --config FILE [ROLE]")
	}
	fs := flag.NewFlagSet("role "+args[0], flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("--config FILE is required")
	}
	switch args[0] {
	case "revoke-sessions":
		if fs.NArg() != 1 {
			return errors.New("usage: cairn role revoke-sessions --config FILE ROLE")
		}
		// Sessions carry their issue time in whole seconds: deny up to the
		// next second so that none issued now survives.
		before := time.Now().UTC().Truncate(time.Second).Add(time.Second)
		if err := config.RevokeRoleSessions(*cfgPath, fs.Arg(0), before); err != nil {
			return err
		}
		fmt.Printf("role %s: sessions issued before %s are denied; send SIGHUP to every cairn using %s\n", fs.Arg(0), before.Format(time.RFC3339), *cfgPath)
	case "revocations":
		c, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		for _, r := range c.Revocations() {
			fmt.Printf("%s\tsessions issued before %s are denied\n", r.Role, r.Before)
		}
	default:
		return fmt.Errorf("unknown role command %q", args[0])
	}
	return nil
}

func runIAM(args []string) error {
	if len(args) == 0 || args[0] != "show" {
		return errors.New("usage: cairn iam show --data DIR")
	}
	fs := flag.NewFlagSet("iam show", flag.ContinueOnError)
	data := fs.String("data", "./cairn-data", "data directory")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	doc, err := store.ReadMeta(*data, "iam")
	if err != nil {
		return err
	}
	lines, err := iam.Describe(doc)
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		fmt.Println("no identities created through the IAM API")
	}
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}

type kvFlags map[string]string

func (k kvFlags) String() string { return "" }
func (k kvFlags) Set(v string) error {
	key, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("--context %q: want key=value", v)
	}
	k[key] = val
	return nil
}

func runPolicy(args []string) error {
	if len(args) == 0 || args[0] != "simulate" {
		return errors.New("usage: cairn policy simulate --config FILE --principal ARN --action A --resource R [--bucket-policy FILE] [--context k=v]...")
	}
	fs := flag.NewFlagSet("policy simulate", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file")
	principal := fs.String("principal", "", "root, anonymous, or a user, role or assumed-role ARN")
	action := fs.String("action", "", "IAM action, e.g. s3:GetObject")
	resource := fs.String("resource", "", "resource ARN, e.g. arn:aws:s3:::bucket/key")
	bucketPolicy := fs.String("bucket-policy", "", "file with the bucket policy (JSON)")
	ctx := kvFlags{}
	fs.Var(ctx, "context", "condition key=value (repeatable), e.g. aws:SecureTransport=true")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg := config.Default()
	if *cfgPath != "" {
		c, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		cfg = c
	}
	in := simulate.Input{Principal: *principal, Action: *action, Resource: *resource, Context: ctx}
	if *bucketPolicy != "" {
		b, err := os.ReadFile(*bucketPolicy)
		if err != nil {
			return err
		}
		in.BucketPolicy = string(b)
	}
	effect, err := simulate.Run(cfg, in, os.Stdout)
	if err != nil {
		return err
	}
	if effect != policy.Allow {
		os.Exit(3) // denied: scripts can test the exit code
	}
	return nil
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9000", "address to listen on (host:port)")
	data := fs.String("data", "./cairn-data", "data directory (created if missing)")
	cfgPath := fs.String("config", "", "config file (YAML); optional")
	region := fs.String("region", "", "region to answer for (default: config, else us-east-1)")
	domain := fs.String("domain", "", "domain for virtual-hosted-style requests: Host <bucket>.<domain>")
	noSync := fs.Bool("no-fsync", false, "do not fsync writes (faster; acknowledged writes may be lost on power failure)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	adminListen := fs.String("admin-listen", "", "also serve /metrics, /healthz, /readyz on this address (they are always at /-/metrics, /-/healthz, /-/readyz on --listen)")
	accessLog := fs.Bool("access-log", true, "log one line per request at info level")
	maxRequests := fs.Int("max-requests", 1024, "concurrent requests before answering 503 SlowDown")
	bodyIdle := fs.Duration("body-idle-timeout", time.Minute, "end a request whose body stops arriving for this long")
	headerTimeout := fs.Duration("read-header-timeout", 15*time.Second, "time to read a request's headers")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "on SIGTERM, time given to in-flight requests")
	tlsCert := fs.String("tls-cert", "", "PEM certificate (chain) file: serve HTTPS")
	tlsKey := fs.String("tls-key", "", "PEM private key file for --tls-cert")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	default:
		return fmt.Errorf("--log-format: %q is not text or json", *logFormat)
	}
	log := slog.New(handler)

	a, err := app.Open(app.Options{
		DataDir: *data, ConfigPath: *cfgPath, Region: *region, Domain: *domain, NoSync: *noSync, Logger: log,
		RootAccessKey: os.Getenv("CAIRN_ROOT_ACCESS_KEY"), RootSecretKey: os.Getenv("CAIRN_ROOT_SECRET_KEY"),
		MaxInFlight: *maxRequests, BodyIdleTimeout: *bodyIdle, AccessLog: *accessLog,
	})
	if err != nil {
		return err
	}
	defer a.Close()

	if (*tlsCert == "") != (*tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	scheme := "http"
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: *headerTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	fmt.Fprintf(os.Stderr, "cairn %s: S3 endpoint %s://%s (region %s", version, scheme, ln.Addr(), a.Config.Region)
	if a.Config.Domain != "" {
		fmt.Fprintf(os.Stderr, ", virtual-hosted buckets at <bucket>.%s", a.Config.Domain)
	}
	fmt.Fprintf(os.Stderr, "), data in %s\n", *data)
	if a.Root.Generated {
		fmt.Fprintf(os.Stderr, "cairn: generated root credentials, saved to %s (shown once):\n  access key: %s\n  secret key: %s\n",
			a.Root.Source, a.Root.AccessKey, a.Root.SecretKey)
	} else {
		fmt.Fprintf(os.Stderr, "cairn: root credentials from %s (access key %s)\n", a.Root.Source, a.Root.AccessKey)
	}
	fmt.Fprintf(os.Stderr, "cairn: STS at the same endpoint; session tokens sealed with key %s from %s\n", a.Ring.ActiveID(), a.Ring.Source)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go a.WatchConfig(ctx, 2*time.Second, func(err error) {
		if err != nil {
			log.Error("config changed but the new file is refused; the running configuration stays", "config", *cfgPath, "err", err)
		} else {
			log.Info("config changed: reloaded", "config", *cfgPath)
		}
	})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := a.Reload(); err != nil {
				log.Error("config reload refused; the running configuration stays", "config", *cfgPath, "err", err)
			} else {
				log.Info("config reloaded", "config", *cfgPath)
			}
		}
	}()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var admin *http.Server
	if *adminListen != "" {
		aln, err := net.Listen("tcp", *adminListen)
		if err != nil {
			return fmt.Errorf("--admin-listen %s: %w", *adminListen, err)
		}
		admin = &http.Server{Handler: a.Admin, ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- admin.Serve(aln) }()
		fmt.Fprintf(os.Stderr, "cairn: metrics and health at http://%s/metrics /healthz /readyz\n", aln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if admin != nil {
		admin.Close()
	}
	// Stop accepting, let in-flight requests finish (an upload commits
	// whole or not at all), then close the store.
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown deadline passed with requests in flight", "err", err)
	}
	return nil
}
