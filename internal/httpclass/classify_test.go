package httpclass

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
)

const (
	read        = sluice.ClassRead
	write       = sluice.ClassWrite
	destructive = sluice.ClassDestructive
	unknown     = sluice.ClassUnknown
)

// classifyCase is one request and what it must classify as with the
// patterns of set: a built-in set name, "custom" for customPatterns
// followed by the kubernetes set, or "" for none.
type classifyCase struct {
	set                       string
	method, host, path, query string
	class                     sluice.Class
	patterns                  []string
}

// customPatterns stand for patterns from a connection's configuration.
var customPatterns = []Pattern{
	{Name: "custom.read_all", Description: "everything here is a read", Path: "/readonly/**", Class: read},
	{Name: "custom.dry_run", Methods: []string{"POST", "PUT", "PATCH"}, Path: "/apis/**", Query: "dryRun=All", Class: read},
}

const (
	arm  = "management.azure.com"
	sub  = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	rg   = sub + "/resourceGroups/prod-rg"
	acct = rg + "/providers/Microsoft.Storage/storageAccounts/prodlogs"
	blob = "evidence.blob.core.windows.net"
	s3p  = "s3.us-east-1.amazonaws.com"
	s3v  = "logs-bucket.s3.us-west-2.amazonaws.com"
	kube = "kube.internal:6443"
	ant  = "api.anthropic.com"
	pod  = "/api/v1/namespaces/prod/pods/web-7d9c"
	av   = "api-version=2023-05-01"
)

var classifyCases = []classifyCase{
	// The method alone.
	{"", "GET", arm, "/anything", "", read, nil},
	{"", "HEAD", arm, "/anything", "", read, nil},
	{"", "OPTIONS", arm, "/anything", "", read, nil},
	{"", "POST", arm, "/anything", "", write, nil},
	{"", "PUT", arm, "/anything", "", write, nil},
	{"", "PATCH", arm, "/anything", "", write, nil},
	{"", "DELETE", arm, "/anything", "", write | destructive, nil},
	{"", "TRACE", arm, "/anything", "", unknown, nil},
	{"", "CONNECT", arm, "/anything", "", unknown, nil},
	{"", "get", arm, "/anything", "", unknown, nil},
	{"", "delete", arm, "/anything", "", unknown, nil},
	{"", "PURGE", arm, "/anything", "", unknown, nil},
	{"", "", arm, "/anything", "", unknown, nil},
	{"", "GET", arm, "", "", read, nil},
	{"", "GET", arm, "/", "", read, nil},

	// Paths that cannot be classified.
	{"", "GET", arm, "/a/../..", "", unknown, nil},
	{"", "GET", arm, "/..", "", unknown, nil},
	{"", "GET", arm, "/%2e%2E/etc", "", unknown, nil},
	{"", "DELETE", arm, "/../x", "", unknown | write | destructive, nil},
	{"", "GET", arm, "/a%zz", "", unknown, nil},
	{"", "GET", arm, "/a%2", "", unknown, nil},
	{"", "GET", arm, "a/b", "", unknown, nil},
	{"", "OPTIONS", arm, "*", "", unknown, nil},
	{"azure", "GET", arm, "/a%2F..%2F..%2Fb", "", read | unknown, nil}, // climbs only when %2F is /

	// Azure Resource Manager.
	{"azure", "DELETE", arm, rg, av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, rg + "/", av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, strings.ToLower(rg), av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, strings.ToUpper(rg), av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, "/a/.." + rg, av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, "/" + rg + "//", av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, rg + "/./x/..", av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, sub + "/resourceGroups/%70rod-rg", av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", "MANAGEMENT.AZURE.COM:443", rg, av + "&forceDeletionTypes=Microsoft.Compute/virtualMachines", write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "GET", arm, rg, av, read, nil},
	{"azure", "PUT", arm, rg, av, write, nil},
	{"azure", "PATCH", arm, rg, av, write, nil},
	{"azure", "DELETE", arm, acct, av, write | destructive, []string{"azure.delete_storage_account", "azure.delete_resource"}},
	{"azure", "DELETE", arm, strings.ToLower(acct), av, write | destructive, []string{"azure.delete_storage_account", "azure.delete_resource"}},
	{"azure", "DELETE", arm, acct + "/blobServices/default/containers/audit", av, write | destructive, []string{"azure.delete_blob_container", "azure.delete_resource"}},
	{"azure", "DELETE", arm, rg + "/providers/Microsoft.Compute/virtualMachines/vm-1", av, write | destructive, []string{"azure.delete_resource"}},
	{"azure", "DELETE", arm, "/providers/Microsoft.Management/managementGroups/mg-prod", av, write | destructive, []string{"azure.delete_resource"}},
	{"azure", "DELETE", arm, rg + "/providers/Microsoft.Authorization/locks/do-not-delete", av, write | destructive | sluice.ClassPrivileged, []string{"azure.delete_resource", "azure.delete_lock"}},
	{"azure", "PUT", arm, sub + "/providers/Microsoft.Authorization/roleAssignments/6c1b5e3a-0a0c-4d8f-9a43-2f0f4b1c9e11", av, write | sluice.ClassPrivileged, []string{"azure.authorization"}},
	{"azure", "PUT", arm, "/providers/Microsoft.Management/managementGroups/mg-prod/providers/Microsoft.Authorization/roleAssignments/6c1b5e3a", av, write | sluice.ClassPrivileged, []string{"azure.authorization"}},
	{"azure", "DELETE", arm, sub + "/providers/Microsoft.Authorization/roleAssignments/6c1b5e3a", av, write | destructive | sluice.ClassPrivileged, []string{"azure.delete_resource", "azure.authorization"}},
	{"azure", "GET", arm, sub + "/providers/Microsoft.Authorization/roleAssignments", av, read, nil},
	{"azure", "POST", arm, "/providers/Microsoft.Authorization/elevateAccess", "api-version=2016-07-01", write | sluice.ClassPrivileged, []string{"azure.elevate_access"}},
	{"azure", "POST", arm, acct + "/listKeys", av, read | sluice.ClassPrivileged, []string{"azure.list_keys"}},
	{"azure", "POST", arm, strings.ToLower(acct) + "/listkeys", av, read | sluice.ClassPrivileged, []string{"azure.list_keys"}},
	{"azure", "POST", arm, rg + "/providers/Microsoft.ContainerService/managedClusters/aks-1/listClusterAdminCredential", av, read | sluice.ClassPrivileged, []string{"azure.list_keys"}},
	{"azure", "POST", arm, acct + "/regenerateKey", av, write | destructive | sluice.ClassPrivileged, []string{"azure.regenerate_key"}},
	{"azure", "POST", arm, rg + "/providers/Microsoft.Compute/virtualMachines/vm-1/runCommand", av, sluice.ClassPrivileged, []string{"azure.run_command"}},
	{"azure", "POST", arm, sub + "/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv-prod/purge", av, write | destructive, []string{"azure.purge"}},
	{"azure", "POST", arm, sub + "/providers/Microsoft.Subscription/cancel", av, write | destructive, []string{"azure.cancel_subscription"}},
	{"azure", "PUT", arm, rg + "/providers/Microsoft.Resources/deployments/release-42", av, write | unknown, []string{"azure.deployment"}},
	{"azure", "POST", arm, rg + "/providers/Microsoft.Resources/deployments/release-42/whatIf", av, write, nil},
	{"azure", "POST", arm, "/batch", "api-version=2020-06-01", unknown, []string{"azure.batch"}},
	{"azure", "POST", arm, "/providers/Microsoft.ResourceGraph/resources", "api-version=2021-03-01", read, []string{"azure.resource_graph_query"}},
	{"azure", "POST", arm, rg + "/providers/Microsoft.Compute/virtualMachines/vm-1/restart", av, write, nil},

	// An encoded slash does not split a segment; the reading where it
	// does is matched too.
	{"azure", "DELETE", arm, sub + "/resourceGroups/prod-rg%2Fextra", av, write | destructive, []string{"azure.delete_resource_group", "azure.delete_resource"}},
	{"azure", "DELETE", arm, sub + "/resourceGroups%2Fprod-rg", av, write | destructive, []string{"azure.delete_resource", "azure.delete_resource_group"}},
	{"azure", "POST", arm, acct + "%2FlistKeys", av, write | read | sluice.ClassPrivileged, []string{"azure.list_keys"}},
	{"azure", "POST", arm, acct + `\listKeys`, av, write | read | sluice.ClassPrivileged, []string{"azure.list_keys"}},
	{"azure", "POST", arm, acct + "%5ClistKeys", av, write | read | sluice.ClassPrivileged, []string{"azure.list_keys"}},

	// Azure Blob and Data Lake data planes.
	{"azure", "DELETE", blob, "/audit", "restype=container", write | destructive, []string{"azure.blob_delete_container"}},
	{"azure", "DELETE", "Evidence.BLOB.core.windows.net:443", "/audit/", "RESTYPE=Container", write | destructive, []string{"azure.blob_delete_container"}},
	{"azure", "DELETE", "evidence.blob.core.usgovcloudapi.net", "/audit", "restype=container", write | destructive, []string{"azure.blob_delete_container"}},
	{"azure", "DELETE", blob, "/audit", "restype=container&timeout=30", write | destructive, []string{"azure.blob_delete_container"}},
	{"azure", "DELETE", blob, "/audit", "restype%3Dcontainer", write | destructive, nil}, // one parameter named "restype=container"
	{"azure", "DELETE", "example.com", "/audit", "restype=container", write | destructive, nil},
	{"azure", "DELETE", blob, "/audit/2024/01/journal-000001.seg", "", write | destructive, []string{"azure.blob_delete_blob"}},
	{"azure", "DELETE", blob, "/audit/a%2Fb.seg", "snapshot=2024-01-01T00:00:00.0000000Z", write | destructive, []string{"azure.blob_delete_blob"}},
	{"azure", "GET", blob, "/audit", "restype=container&comp=list", read, nil},
	{"azure", "PUT", blob, "/audit", "restype=container", write, nil},
	{"azure", "POST", blob, "/", "comp=batch", write | destructive, []string{"azure.blob_batch"}},
	{"azure", "POST", blob, "/audit", "restype=container&comp=batch", write | destructive, []string{"azure.blob_batch"}},
	{"azure", "DELETE", "lake.dfs.core.windows.net", "/raw", "resource=filesystem", write | destructive, []string{"azure.dfs_delete_filesystem"}},
	{"azure", "DELETE", "lake.dfs.core.windows.net", "/raw/2024/01", "recursive=true", write | destructive, []string{"azure.dfs_delete_path"}},

	// S3, path-style.
	{"s3", "DELETE", s3p, "/logs-bucket", "", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", s3p, "/logs-bucket/", "", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "x-id=DeleteBucket", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", "minio.internal:9000", "/logs-bucket", "", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "policy", write | destructive | sluice.ClassPrivileged, []string{"s3.delete_bucket_policy"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "policy=", write | destructive | sluice.ClassPrivileged, []string{"s3.delete_bucket_policy"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "lifecycle", write | destructive, []string{"s3.delete_bucket_lifecycle"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "analytics&id=report-1", write | destructive, []string{"s3.delete_bucket_analytics"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "intelligent-tiering&id=archive", write | destructive, []string{"s3.delete_bucket_intelligent_tiering"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "publicAccessBlock", write | destructive | sluice.ClassPrivileged, []string{"s3.delete_bucket_public_access_block"}},
	{"s3", "DELETE", s3p, "/logs-bucket", "tagging", write | destructive, []string{"s3.delete_bucket_tagging"}},
	{"s3", "POST", s3p, "/logs-bucket", "delete", write | destructive, []string{"s3.delete_objects"}},
	{"s3", "POST", s3p, "/logs-bucket", "delete=&x-id=DeleteObjects", write | destructive, []string{"s3.delete_objects"}},
	{"s3", "POST", s3p, "/logs-bucket", "%64elete", write | destructive, []string{"s3.delete_objects"}},
	{"s3", "POST", s3p, "/logs-bucket", "deleted", write, nil},
	{"s3", "POST", s3p, "/logs-bucket", "", write, nil},
	{"s3", "DELETE", s3p, "/logs-bucket/2024/01/app.log", "x-id=DeleteObject", write | destructive, []string{"s3.delete_object"}},
	{"s3", "DELETE", s3p, "/logs-bucket/app.log", "versionId=3HL4kqtJlcpXroDTDmJ", write | destructive, []string{"s3.delete_object"}},
	{"s3", "DELETE", s3p, "/logs-bucket/a%2Fb.log", "", write | destructive, []string{"s3.delete_object"}},
	{"s3", "DELETE", s3p, "/logs-bucket%2Fapp.log", "", write | destructive, []string{"s3.delete_bucket", "s3.delete_object"}},
	{"s3", "DELETE", s3p, "/logs-bucket/app.log", "tagging", write | destructive, []string{"s3.delete_object_tagging"}},
	{"s3", "DELETE", s3p, "/logs-bucket/app.log", "uploadId=VXBsb2FkIElE", write | destructive, []string{"s3.abort_multipart_upload"}},
	{"s3", "PUT", s3p, "/logs-bucket", "policy", write | sluice.ClassPrivileged, []string{"s3.put_bucket_policy"}},
	{"s3", "PUT", s3p, "/logs-bucket/app.log", "acl", write | sluice.ClassPrivileged, []string{"s3.put_acl"}},
	{"s3", "PUT", s3p, "/logs-bucket", "lifecycle", write | destructive, []string{"s3.put_bucket_lifecycle"}},
	{"s3", "PUT", s3p, "/logs-bucket/app.log", "", write, nil},
	{"s3", "POST", s3p, "/logs-bucket/data.csv", "select&select-type=2", read, []string{"s3.select_object_content"}},
	{"s3", "GET", s3p, "/logs-bucket", "list-type=2&prefix=2024", read, nil},

	// S3, virtual-hosted style: the bucket is in the host.
	{"s3", "DELETE", s3v, "/", "", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", s3v, "", "", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", "LOGS-BUCKET.S3.AMAZONAWS.COM", "/", "", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", "logs.bucket.s3.cn-north-1.amazonaws.com.cn", "/", "", write | destructive, []string{"s3.delete_bucket"}},
	{"s3", "DELETE", s3v, "/", "policy", write | destructive | sluice.ClassPrivileged, []string{"s3.delete_bucket_policy"}},
	{"s3", "DELETE", s3v, "/app.log", "", write | destructive, []string{"s3.delete_object"}},
	{"s3", "DELETE", s3v, "/2024/01/app.log", "", write | destructive, []string{"s3.delete_object"}},
	{"s3", "DELETE", "logs-bucket.s3-accelerate.amazonaws.com", "/app.log", "", write | destructive, []string{"s3.delete_object"}},
	{"s3", "DELETE", s3v, "/app.log", "uploadId=VXBsb2FkIElE", write | destructive, []string{"s3.abort_multipart_upload"}},
	{"s3", "POST", s3v, "/", "delete", write | destructive, []string{"s3.delete_objects"}},
	{"s3", "POST", s3v, "/app.log", "delete", write, nil},
	{"s3", "PUT", s3v, "/", "policy", write | sluice.ClassPrivileged, []string{"s3.put_bucket_policy"}},

	// Kubernetes.
	{"kubernetes", "DELETE", kube, pod, "", write | destructive, []string{"kubernetes.delete"}},
	{"kubernetes", "DELETE", kube, "/api/v1/namespaces/prod/pods", "labelSelector=app%3Dweb", write | destructive, []string{"kubernetes.delete", "kubernetes.delete_collection"}},
	{"kubernetes", "DELETE", kube, "/api/v1/namespaces/prod", "", write | destructive, []string{"kubernetes.delete", "kubernetes.delete_namespace"}},
	{"kubernetes", "DELETE", kube, "/api/v1/namespaces/prod/", "propagationPolicy=Foreground", write | destructive, []string{"kubernetes.delete", "kubernetes.delete_namespace"}},
	{"kubernetes", "DELETE", kube, "/api/v1/namespaces", "", write | destructive, []string{"kubernetes.delete", "kubernetes.delete_collection"}},
	{"kubernetes", "DELETE", kube, "/api/v1/nodes/node-1", "", write | destructive, []string{"kubernetes.delete"}},
	{"kubernetes", "DELETE", kube, "/apis/apps/v1/namespaces/prod/deployments/web", "", write | destructive, []string{"kubernetes.delete"}},
	{"kubernetes", "DELETE", kube, "/apis/apps/v1/namespaces/prod/deployments", "", write | destructive, []string{"kubernetes.delete", "kubernetes.delete_collection"}},
	{"kubernetes", "DELETE", kube, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "", write | destructive, []string{"kubernetes.delete", "kubernetes.delete_collection"}},
	{"kubernetes", "DELETE", kube, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin", "", write | destructive | sluice.ClassPrivileged, []string{"kubernetes.delete", "kubernetes.rbac"}},
	{"kubernetes", "POST", kube, pod + "/exec", "command=sh&stdin=true&tty=true&container=web", sluice.ClassPrivileged, []string{"kubernetes.exec"}},
	{"kubernetes", "GET", kube, pod + "/exec", "command=cat&command=%2Fetc%2Fpasswd", sluice.ClassPrivileged, []string{"kubernetes.exec"}},
	{"kubernetes", "POST", kube, pod + "/exec/", "", sluice.ClassPrivileged, []string{"kubernetes.exec"}},
	{"kubernetes", "POST", kube, pod + "/EXEC", "", sluice.ClassPrivileged, []string{"kubernetes.exec"}},
	{"kubernetes", "POST", kube, pod + "/./%65xec", "", sluice.ClassPrivileged, []string{"kubernetes.exec"}},
	{"kubernetes", "POST", kube, "/api/v1/namespaces/prod/pods/other/../web-7d9c/exec", "", sluice.ClassPrivileged, []string{"kubernetes.exec"}},
	{"kubernetes", "POST", kube, "/api/v1/namespaces/prod/pods/web-7d9c%2Fexec", "", write | sluice.ClassPrivileged, []string{"kubernetes.exec"}},
	{"kubernetes", "PUT", kube, pod + "/exec", "", write, nil},
	{"kubernetes", "GET", kube, pod + "/attach", "stdin=true", sluice.ClassPrivileged, []string{"kubernetes.attach"}},
	{"kubernetes", "POST", kube, pod + "/portforward", "ports=5432", sluice.ClassPrivileged, []string{"kubernetes.portforward"}},
	{"kubernetes", "GET", kube, pod + "/log", "container=web&tailLines=100", read, nil},
	{"kubernetes", "GET", kube, pod, "", read, nil},
	{"kubernetes", "GET", kube, "/api/v1/nodes/node-1/proxy/run/prod/web-7d9c/web", "cmd=id", sluice.ClassPrivileged, []string{"kubernetes.proxy"}},
	{"kubernetes", "GET", kube, "/api/v1/namespaces/prod/services/https:web:443/proxy/", "", sluice.ClassPrivileged, []string{"kubernetes.proxy"}},
	{"kubernetes", "DELETE", kube, pod + "/proxy/cache", "", write | destructive | sluice.ClassPrivileged, []string{"kubernetes.delete", "kubernetes.proxy"}},
	{"kubernetes", "POST", kube, pod + "/eviction", "", write | destructive, []string{"kubernetes.eviction"}},
	{"kubernetes", "PATCH", kube, pod + "/ephemeralcontainers", "", write | sluice.ClassPrivileged, []string{"kubernetes.ephemeral_container"}},
	{"kubernetes", "POST", kube, "/api/v1/namespaces/prod/serviceaccounts/deployer/token", "", sluice.ClassPrivileged, []string{"kubernetes.token"}},
	{"kubernetes", "PUT", kube, "/apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval", "", write | sluice.ClassPrivileged, []string{"kubernetes.csr_approval"}},
	{"kubernetes", "POST", kube, "/apis/rbac.authorization.k8s.io/v1/namespaces/prod/rolebindings", "", write | sluice.ClassPrivileged, []string{"kubernetes.rbac"}},
	{"kubernetes", "GET", kube, "/apis/rbac.authorization.k8s.io/v1/clusterroles", "", read, nil},
	{"kubernetes", "POST", kube, "/apis/apps/v1/namespaces/prod/deployments", "", write, nil},

	// The Claude API.
	{"anthropic", "POST", ant, "/v1/messages", "", read, []string{"anthropic.messages"}},
	{"anthropic", "POST", ant, "/v1/messages/", "beta=true", read, []string{"anthropic.messages"}},
	{"anthropic", "POST", ant, "/v1/messages/count_tokens", "", read, []string{"anthropic.count_tokens"}},
	{"anthropic", "POST", ant, "/v1/messages/batches", "", write, nil},
	{"anthropic", "POST", ant, "/v1/messages/../files", "", write, nil},
	{"anthropic", "POST", ant, "/v1%2Fmessages", "", read | write, []string{"anthropic.messages"}},
	{"anthropic", "GET", ant, "/v1/models", "", read, nil},
	{"anthropic", "DELETE", ant, "/v1/messages", "", write | destructive, nil},
	{"anthropic", "DELETE", ant, "/v1/files/file_011CNha8iCJcU1wXNR6q4V8w", "", write | destructive, nil},
	{"anthropic", "TRACE", ant, "/v1/messages", "", unknown, nil},
	{"anthropic", "post", ant, "/v1/messages", "", unknown, nil},
	{"anthropic", "POST", ant, "/v1/organizations/api_keys/apikey_01Rj2N8SVvo6BePZj99NhmiT", "", write | sluice.ClassPrivileged, []string{"anthropic.admin"}},
	{"anthropic", "DELETE", ant, "/v1/organizations/workspaces/wrkspc_01/members/user_01", "", write | destructive | sluice.ClassPrivileged, []string{"anthropic.admin"}},
	{"anthropic", "GET", ant, "/v1/organizations/users", "", read, nil},

	// Custom patterns come first; the floors hold whatever they say.
	{"custom", "GET", "files.internal", "/readonly/reports", "", read, []string{"custom.read_all"}},
	{"custom", "POST", "files.internal", "/readonly/reports", "", read, []string{"custom.read_all"}},
	{"custom", "DELETE", "files.internal", "/readonly/reports", "", read | write | destructive, []string{"custom.read_all"}},
	{"custom", "TRACE", "files.internal", "/readonly/reports", "", read | unknown, []string{"custom.read_all"}},
	{"custom", "CONNECT", "files.internal", "/readonly", "", read | unknown, []string{"custom.read_all"}},
	{"custom", "PATCH", kube, "/apis/apps/v1/namespaces/prod/deployments/web", "dryRun=All", read, []string{"custom.dry_run"}},
	{"custom", "DELETE", kube, "/apis/apps/v1/namespaces/prod/deployments/web", "dryRun=All", write | destructive, []string{"kubernetes.delete"}},
}

var classifiers = sync.OnceValue(func() map[string]*Classifier {
	m := make(map[string]*Classifier)
	for _, set := range BuiltinSets() {
		ps, _ := Builtin(set)
		m[set] = mustNew(ps)
	}
	m[""] = mustNew(nil)
	kube, _ := Builtin("kubernetes")
	m["custom"] = mustNew(append(slices.Clone(customPatterns), kube...))
	return m
})

func mustNew(ps []Pattern) *Classifier {
	c, err := New(ps)
	if err != nil {
		panic(err)
	}
	return c
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyCases {
		c := classifiers()[tc.set]
		got := c.Classify(tc.method, tc.host, tc.path, tc.query)
		if got.Class != tc.class || !slices.Equal(got.Patterns, tc.patterns) {
			t.Errorf("%s: %s %s %s ?%s\n got %s %q\nwant %s %q\nreasons %q",
				tc.set, tc.method, tc.host, tc.path, tc.query, got.Class, got.Patterns, tc.class, tc.patterns, got.Reasons)
		}
		checkResult(t, c, tc.method, got)
	}
}

func TestClassifyReasons(t *testing.T) {
	tests := []struct {
		set, method, host, path, query string
		want                           []string
	}{
		{"", "GET", arm, "/x", "", []string{"GET is a read"}},
		{"", "DELETE", arm, "/x", "", []string{"DELETE is destructive"}},
		{"", "FETCH", arm, "/x", "", []string{`method "FETCH" is not a standard HTTP method`}},
		{"", "TRACE", arm, "/x", "", []string{"TRACE is unknown: it echoes the request back, injected credentials included"}},
		{"", "GET", arm, "/..", "", []string{"path climbs above the root"}},
		{"", "DELETE", arm, "/%zz", "", []string{"path is not valid percent-encoding", "DELETE is destructive"}},
		{"", "GET", arm, "x", "", []string{"path does not start with /"}},
		{"azure", "DELETE", arm, acct, av, []string{
			"matches azure.delete_storage_account: deletes an Azure storage account and all its data",
			"matches azure.delete_resource: deletes an Azure resource",
		}},
		{"azure", "POST", arm, acct + "%2FlistKeys", av, []string{
			"POST is a write",
			`matches azure.list_keys: reads access keys or credentials that grant full access to a resource (if the upstream reads %2F or \ as /)`,
		}},
		{"azure", "GET", arm, "/a%2F..%2F..%2Fb", "", []string{
			"GET is a read",
			`path climbs above the root if the upstream reads %2F or \ as /`,
		}},
		{"custom", "DELETE", "files.internal", "/readonly/x", "", []string{
			"DELETE is destructive",
			"matches custom.read_all: everything here is a read",
		}},
		{"custom", "PATCH", kube, "/apis/apps/v1/namespaces/prod/deployments/web", "dryRun=All", []string{"matches custom.dry_run"}},
	}
	for _, tt := range tests {
		got := classifiers()[tt.set].Classify(tt.method, tt.host, tt.path, tt.query)
		if !slices.Equal(got.Reasons, tt.want) {
			t.Errorf("%s %s ?%s: reasons\n got %q\nwant %q", tt.method, tt.path, tt.query, got.Reasons, tt.want)
		}
	}
}

func TestClassifyAmbiguous(t *testing.T) {
	c := classifiers()["s3"]
	for path, want := range map[string]bool{
		"/bucket/a/b":      false,
		"/bucket/a%20b":    false,
		"/bucket/a%2Fb":    true,
		"/bucket/a%2fb":    true,
		"/bucket/a%5Cb":    true,
		`/bucket/a\b`:      true,
		"/bucket/a%252Fb":  false,
		"/bucket/%2e%2e/x": false,
	} {
		if got := c.Classify("GET", s3p, path, "").Ambiguous; got != want {
			t.Errorf("%s: Ambiguous = %v, want %v", path, got, want)
		}
	}
}

// Long method names are cut in reasons.
func TestClassifyLongMethod(t *testing.T) {
	got := classifiers()[""].Classify(strings.Repeat("X", 10000), "", "/", "")
	if got.Class != unknown || len(got.Reasons[0]) > 100 {
		t.Fatalf("got %s %q", got.Class, got.Reasons)
	}
}

// checkResult checks what holds for every result.
func checkResult(t *testing.T, c *Classifier, method string, r Result) {
	t.Helper()
	if r.Class == 0 {
		t.Fatalf("%q: class 0", method)
	}
	if r.Class&^allClasses != 0 {
		t.Fatalf("%q: class %#x has undefined bits", method, uint16(r.Class))
	}
	if method == "DELETE" && !r.Class.Has(write|destructive) {
		t.Fatalf("DELETE classified %s", r.Class)
	}
	if mi := methodInfoFor(method); mi.bit == 0 || mi.floor == unknown {
		if !r.Class.Has(unknown) {
			t.Fatalf("%q classified %s", method, r.Class)
		}
	}
	if len(r.Reasons) == 0 {
		t.Fatalf("%q: no reasons", method)
	}
	if len(r.Reasons) < len(r.Patterns) {
		t.Fatalf("%q: %d patterns but %d reasons", method, len(r.Patterns), len(r.Reasons))
	}
	seen := make(map[string]bool)
	for _, name := range r.Patterns {
		if seen[name] {
			t.Fatalf("%q: pattern %s listed twice", method, name)
		}
		seen[name] = true
		if !slices.ContainsFunc(c.pats, func(p compiled) bool { return p.name == name }) {
			t.Fatalf("%q: pattern %s is not the classifier's", method, name)
		}
	}
}

func TestClassifierConcurrent(t *testing.T) {
	c := classifiers()["custom"]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, tc := range classifyCases {
				c.Classify(tc.method, tc.host, tc.path, tc.query)
			}
		})
	}
	wg.Wait()
}
