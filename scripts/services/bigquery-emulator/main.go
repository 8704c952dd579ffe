// Command bigquery-emulator runs goccy/bigquery-emulator (pinned in go.mod) for the test services, with shims
// for the API calls our clients make that the emulator does not implement. Each shim answers the way BigQuery
// does for the state the emulator can hold, so the client libraries behave as they do against the real service.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/bigquery-emulator/server"
	"github.com/goccy/bigquery-emulator/types"
)

// routinesList matches routines.list. The emulator answers 500 "unsupported bigquery.routines.list", and
// dbt-bigquery lists routines with every dataset's tables; the emulator cannot hold routines, so the true
// answer is an empty list.
var routinesList = regexp.MustCompile(`^(/bigquery/v2)?/projects/[^/]+/datasets/[^/]+/routines/?$`)

// jobsInsertOrGet matches jobs.insert and jobs.get. The emulator reports statementType SELECT for every query
// job; dbt-bigquery then looks up the job's destination table, which DDL and DML jobs do not have, and fails.
var jobsInsertOrGet = regexp.MustCompile(`^(/bigquery/v2)?/projects/[^/]+/jobs(/[^/]+)?/?$`)

// resumableUpload matches the first request of a resumable load-job upload, whose body is the job resource.
// BigQuery defaults a load job's sourceFormat to CSV; the emulator rejects a job that leaves it out, as
// dbt-bigquery's seed loads do.
var resumableUpload = regexp.MustCompile(`^/upload/bigquery/v2/projects/[^/]+/jobs/?$`)

// withDefaultSourceFormat sets configuration.load.sourceFormat to CSV when the job resource leaves it out.
func withDefaultSourceFormat(body []byte) []byte {
	var job map[string]any
	if json.Unmarshal(body, &job) != nil {
		return body
	}
	configuration, _ := job["configuration"].(map[string]any)
	load, _ := configuration["load"].(map[string]any)
	if load == nil || load["sourceFormat"] != nil {
		return body
	}
	load["sourceFormat"] = "CSV"
	fixed, err := json.Marshal(job)
	if err != nil {
		return body
	}
	return fixed
}

// tablesDelete matches tables.delete. The emulator fails to drop some tables dbt creates with DDL (scratch
// tables of snapshots and unit tests: "failed to find table spec", or a panic in its SQLite layer) and answers
// 500, which the client retries for ten minutes. The shim answers 404 instead, which dbt's drops accept: the
// scratch table stays behind in the emulator, where nothing reads it.
var tablesDelete = regexp.MustCompile(`^(/bigquery/v2)?/projects/[^/]+/datasets/[^/]+/tables/[^/]+/?$`)

// leadingComments strips SQL comments and whitespace before the first keyword.
var leadingComments = regexp.MustCompile(`^(\s+|--[^\n]*\n?|/\*(?s:.*?)\*/)*`)

// statementTypes maps a statement's opening words to BigQuery's statementType, longest prefix first.
var statementTypes = []struct{ prefix, statementType string }{
	{"CREATE OR REPLACE VIEW", "CREATE_VIEW"},
	{"CREATE VIEW", "CREATE_VIEW"},
	{"CREATE OR REPLACE TABLE", "CREATE_TABLE"},
	{"CREATE TABLE", "CREATE_TABLE"},
	{"CREATE SCHEMA", "CREATE_SCHEMA"},
	{"DROP VIEW", "DROP_VIEW"},
	{"DROP TABLE", "DROP_TABLE"},
	{"DROP SCHEMA", "DROP_SCHEMA"},
	{"ALTER TABLE", "ALTER_TABLE"},
	{"INSERT", "INSERT"},
	{"UPDATE", "UPDATE"},
	{"DELETE", "DELETE"},
	{"MERGE", "MERGE"},
	{"TRUNCATE", "TRUNCATE_TABLE"},
}

// statementType gives the statementType BigQuery reports for a query text with no result table.
func statementType(query string) string {
	words := strings.Join(strings.Fields(strings.ToUpper(leadingComments.ReplaceAllString(query, ""))), " ")
	for _, candidate := range statementTypes {
		if strings.HasPrefix(words, candidate.prefix) {
			return candidate.statementType
		}
	}
	return "SCRIPT"
}

// fixStatementType rewrites a job resource whose query produced no result table.
func fixStatementType(body []byte) []byte {
	var job map[string]any
	if json.Unmarshal(body, &job) != nil {
		return body
	}
	configuration, _ := job["configuration"].(map[string]any)
	query, _ := configuration["query"].(map[string]any)
	statistics, _ := job["statistics"].(map[string]any)
	queryStatistics, _ := statistics["query"].(map[string]any)
	if query == nil || queryStatistics == nil || query["destinationTable"] != nil {
		return body
	}
	text, _ := query["query"].(string)
	queryStatistics["statementType"] = statementType(text)
	fixed, err := json.Marshal(job)
	if err != nil {
		return body
	}
	return fixed
}

// queryResultsTable matches tables.get and tabledata.list on the anonymous results table of a query (see
// the patch to the emulator's addQueryResultToDynamicDestinationTable), whose rows the job holds.
var queryResultsTable = regexp.MustCompile(
	`^(?:/bigquery/v2)?/projects/([^/]+)/datasets/` + regexp.QuoteMeta(server.QueryResultsDataset) +
		`/tables/([^/]+?)(/data)?/?$`)

// serveQueryResultsTable answers tables.get or tabledata.list for a query's results table from
// jobs.getQueryResults of the job it is named after. tabledata.list pages by pageToken, which is the next
// start index, as getQueryResults' own pageToken is.
func serveQueryResultsTable(next http.Handler, w http.ResponseWriter, r *http.Request, project, jobID string, data bool) {
	query := r.URL.Query()
	results := url.Values{}
	for _, name := range []string{"location", "maxResults", "startIndex", "formatOptions.useInt64Timestamp"} {
		if value := query.Get(name); value != "" {
			results.Set(name, value)
		}
	}
	if token := query.Get("pageToken"); token != "" {
		results.Set("startIndex", token)
	}
	if !data {
		results.Set("maxResults", "0")
	}
	inner := r.Clone(r.Context())
	inner.URL = &url.URL{Path: "/bigquery/v2/projects/" + project + "/queries/" + jobID, RawQuery: results.Encode()}
	inner.RequestURI = inner.URL.RequestURI()
	buffered := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(buffered, inner)
	w.Header().Set("Content-Type", "application/json")
	if buffered.status != http.StatusOK {
		w.WriteHeader(buffered.status)
		_, _ = w.Write(buffered.body.Bytes())
		return
	}
	var answer struct {
		Schema    json.RawMessage `json:"schema"`
		TotalRows json.RawMessage `json:"totalRows"`
		PageToken string          `json:"pageToken"`
		Rows      json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(buffered.body.Bytes(), &answer); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var resource map[string]any
	if data {
		resource = map[string]any{"kind": "bigquery#tableDataList", "totalRows": answer.TotalRows,
			"rows": answer.Rows}
		if answer.PageToken != "" {
			resource["pageToken"] = answer.PageToken
		}
		if len(answer.Rows) == 0 || string(answer.Rows) == "null" {
			resource["rows"] = []any{}
		}
	} else {
		resource = map[string]any{
			"kind": "bigquery#table",
			"id":   project + ":" + server.QueryResultsDataset + "." + jobID,
			"tableReference": map[string]string{
				"projectId": project, "datasetId": server.QueryResultsDataset, "tableId": jobID,
			},
			"schema":  answer.Schema,
			"numRows": answer.TotalRows,
			"type":    "TABLE",
		}
	}
	_ = json.NewEncoder(w).Encode(resource)
}

// createSchema matches a CREATE SCHEMA statement and captures its project (optional) and dataset.
var createSchema = regexp.MustCompile(
	"(?is)^\\s*create\\s+schema\\s+(?:if\\s+not\\s+exists\\s+)?`?(?:([a-z0-9_-]+)`?\\.`?)?([a-z0-9_]+)`?\\s*;?\\s*$")

// ensureSchemaDataset creates, through datasets.insert, the dataset a CREATE SCHEMA query job names. The
// emulator runs the statement in its SQL engine only, so the dataset does not exist for the API and the next
// CREATE VIEW in it fails ("dataset staging is not found"); dbt creates its schemas this way. An existing
// dataset is left alone.
func ensureSchemaDataset(next http.Handler, r *http.Request, body []byte, defaultProject string) {
	var job struct {
		Configuration struct {
			Query struct {
				Query string `json:"query"`
			} `json:"query"`
		} `json:"configuration"`
	}
	if json.Unmarshal(body, &job) != nil {
		return
	}
	query := leadingComments.ReplaceAllString(job.Configuration.Query.Query, "")
	match := createSchema.FindStringSubmatch(query)
	if match == nil {
		return
	}
	project := match[1]
	if project == "" {
		project = defaultProject
	}
	dataset, _ := json.Marshal(map[string]any{
		"datasetReference": map[string]string{"projectId": project, "datasetId": match[2]},
	})
	inner := r.Clone(r.Context())
	inner.Method = http.MethodGet
	inner.URL = &url.URL{Path: "/bigquery/v2/projects/" + project + "/datasets/" + match[2]}
	inner.RequestURI = inner.URL.RequestURI()
	inner.Body = http.NoBody
	inner.ContentLength = 0
	found := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(found, inner)
	if found.status == http.StatusOK {
		return
	}
	inner.Method = http.MethodPost
	inner.URL = &url.URL{Path: "/bigquery/v2/projects/" + project + "/datasets"}
	inner.RequestURI = inner.URL.RequestURI()
	inner.Body = io.NopCloser(bytes.NewReader(dataset))
	inner.ContentLength = int64(len(dataset))
	inner.Header = inner.Header.Clone()
	inner.Header.Set("Content-Type", "application/json")
	inner.Header.Set("Content-Length", strconv.Itoa(len(dataset)))
	inner.Header.Del("Content-Encoding")
	next.ServeHTTP(&bufferedResponse{header: http.Header{}, status: http.StatusOK}, inner)
}

// bufferedResponse holds a handler's answer so a shim can rewrite it before it is sent.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }

func withShims(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if match := queryResultsTable.FindStringSubmatch(r.URL.Path); r.Method == http.MethodGet && match != nil {
			serveQueryResultsTable(next, w, r, match[1], match[2], match[3] != "")
			return
		}
		if r.Method == http.MethodGet && routinesList.MatchString(r.URL.Path) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"kind":"bigquery#listRoutinesResponse","routines":[]}`))
			return
		}
		if r.Method == http.MethodPost && r.URL.Query().Get("uploadType") == "resumable" &&
			resumableUpload.MatchString(r.URL.Path) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = withDefaultSourceFormat(body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		if r.Method == http.MethodDelete && tablesDelete.MatchString(r.URL.Path) {
			buffered := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
			next.ServeHTTP(buffered, r)
			if buffered.status >= http.StatusInternalServerError {
				message, _ := json.Marshal("Not found: Table " + r.URL.Path + " (the emulator could not drop it: " +
					strings.TrimSpace(buffered.body.String()) + ")")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				_, _ = fmt.Fprintf(w, `{"error":{"code":404,"message":%s,"errors":[{"reason":"notFound"}]}}`, message)
				return
			}
			for key, values := range buffered.header {
				w.Header()[key] = values
			}
			w.WriteHeader(buffered.status)
			_, _ = w.Write(buffered.body.Bytes())
			return
		}
		if r.Method == http.MethodPost && jobsInsertOrGet.MatchString(r.URL.Path) && r.Header.Get("Content-Encoding") == "" {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			project := strings.Split(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/bigquery/v2"), "/projects/"), "/")[0]
			ensureSchemaDataset(next, r, body, project)
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodPost) && jobsInsertOrGet.MatchString(r.URL.Path) {
			buffered := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
			next.ServeHTTP(buffered, r)
			body := buffered.body.Bytes()
			if buffered.status == http.StatusOK {
				body = fixStatementType(body)
			}
			for key, values := range buffered.header {
				w.Header()[key] = values
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(buffered.status)
			_, _ = w.Write(body)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// collectEngineGarbage runs the Go garbage collector every second. The SQL engine's catalog objects live in
// a WebAssembly heap and are freed by Go finalizers, which run only after a collection; the engine rebuilds
// its whole catalog on every DROP, so under dbt's stream of DDL the old catalogs pile up between the rare
// collections (the Go heap sees only small handles) until the WebAssembly heap passes 2 GiB and the engine
// panics ("slice bounds out of range [-2147...]"). Collecting every second keeps that heap bounded.
func collectEngineGarbage() {
	for range time.Tick(time.Second) {
		runtime.GC()
	}
}

func run() error {
	projects := flag.String("project", "", "comma-separated projects the emulator serves, the default first (required)")
	host := flag.String("host", "127.0.0.1", "address to listen on")
	httpPort := flag.Int("port", 9050, "REST API port")
	grpcPort := flag.Int("grpc-port", 9060, "Storage API (gRPC) port")
	logLevel := flag.String("log-level", "error", "debug, info, warn or error")
	flag.Parse()
	if *projects == "" {
		return errors.New("the required flag --project was not specified")
	}
	bqServer, err := server.New(server.TempStorage)
	if err != nil {
		return err
	}
	names := strings.Split(*projects, ",")
	if err := bqServer.SetProject(names[0]); err != nil {
		return err
	}
	served := make([]*types.Project, 0, len(names))
	for _, name := range names {
		served = append(served, types.NewProject(name))
	}
	if err := bqServer.Load(server.StructSource(served...)); err != nil {
		return err
	}
	if err := bqServer.SetLogLevel(server.LogLevel(*logLevel)); err != nil {
		return err
	}
	bqServer.Handler = withShims(bqServer.Handler)
	go collectEngineGarbage()

	ctx := context.Background()
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupt
		if err := bqServer.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "[bigquery-emulator] failed to stop: %v\n", err)
		}
	}()
	bqServer.SetListenCallback(func(httpAddr, grpcAddr string) {
		fmt.Printf("[bigquery-emulator] REST server listening at %s\n", httpAddr)
		fmt.Printf("[bigquery-emulator] gRPC server listening at %s\n", grpcAddr)
	})
	err = bqServer.Serve(ctx, fmt.Sprintf("%s:%d", *host, *httpPort), fmt.Sprintf("%s:%d", *host, *grpcPort))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
