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
	"syscall"
	"time"

	"github.com/cairn-io/cairn/internal/app"
	"github.com/cairn-io/cairn/internal/config"
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
		ReadHeaderTimeout: 15 * time.Second,
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
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
