// Command knative-validate runs Knative Serving's own admission checks (the webhook's
// SetDefaults and Validate of serving.knative.dev/v1 Service) on rendered manifests, offline.
// It reads a YAML stream on stdin, checks every Knative Service in it, prints one line per
// problem and exits 1 when there is any. Other kinds are left to deploy/manifest_validation.py.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

var separator = regexp.MustCompile(`(?m)^---\s*$`)

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

func check(document string) error {
	var svc servingv1.Service
	if err := yaml.UnmarshalStrict([]byte(document), &svc); err != nil {
		return err
	}
	ctx := apis.WithinCreate(context.Background())
	svc.SetDefaults(ctx)
	if err := svc.Validate(ctx); err != nil {
		return err
	}
	return nil
}

func main() {
	data, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	problems, checked := 0, 0
	for _, document := range separator.Split(string(data), -1) {
		if strings.TrimSpace(document) == "" {
			continue
		}
		var h header
		if err := yaml.Unmarshal([]byte(document), &h); err != nil {
			fmt.Printf("unreadable document: %v\n", err)
			problems++
			continue
		}
		if h.APIVersion != "serving.knative.dev/v1" || h.Kind != "Service" {
			continue
		}
		checked++
		if err := check(document); err != nil {
			fmt.Printf("Service/%s: %s\n", h.Metadata.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
			problems++
		}
	}
	if problems > 0 {
		os.Exit(1)
	}
	fmt.Printf("%d Knative Services pass Knative's validation\n", checked)
}
