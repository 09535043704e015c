// Query parameters as kube-apiserver reads them. Pure.
//
// Booleans of the API's options (ListOptions.watch, allowWatchBookmarks,
// PatchOptions.force, DeleteOptions.orphanDependents, PodLogOptions.follow, …)
// go through apimachinery's runtime.Convert_Slice_string_To_bool: a parameter
// that is absent is false; present, its first value is false only when it is
// "0" or "false" in any letter case, and true otherwise. That accepts every
// form Go's strconv.ParseBool accepts as true ("1", "t", "T", "TRUE", "true",
// "True"; the Python client sends "True") and its "0"/"false"/"FALSE"/"False".

/** Whether a boolean query parameter is set, as the Go API server decides. */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  if (value === null) return false;
  return !(value === '0' || value.toLowerCase() === 'false');
}

/** The boolean parameters among names, normalised to "true"/"false" (for forwarding to a kubelet). */
export function normaliseFlags(query: URLSearchParams, names: readonly string[]): URLSearchParams {
  const out = new URLSearchParams(query);
  for (const name of names) if (query.has(name)) out.set(name, String(queryFlag(query, name)));
  return out;
}
