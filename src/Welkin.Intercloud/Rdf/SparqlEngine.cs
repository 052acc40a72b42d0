namespace Welkin.Intercloud.Rdf;

/// <summary>
/// Runs SPARQL 1.1 SELECT and ASK queries over an <see cref="RdfGraph"/> with Redland's Rasqal, within
/// <see cref="SparqlLimits"/>. Features Rasqal 0.9.33 gets wrong are refused up front (see SparqlGuard).
/// Calls are serialized process-wide: Redland is not thread-safe.
/// </summary>
public sealed class SparqlEngine(SparqlLimits limits, TimeProvider time)
{
    public SparqlLimits Limits { get; } = limits;

    public (SparqlResults? Results, SparqlError? Error) Query(RdfGraph graph, string query, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(query);
        if (query.Length > Limits.MaxQueryLength)
        {
            return (null, SparqlError.Limit($"The query is longer than the limit of {Limits.MaxQueryLength} characters."));
        }
        if (query.Contains('\0', StringComparison.Ordinal))
        {
            return (null, SparqlError.Syntax("The query contains a NUL character."));
        }
        if (SparqlGuard.Check(query, graph.Triples, Limits.MaxCrossProduct) is { } refused)
        {
            return (null, refused);
        }
        var started = time.GetTimestamp();
        // Rasqal's lexer refuses a comment that ends the text without a line break.
        var text = RedlandNative.Utf8(query + "\n");
        return Redland.Use((world, errors) => Run(world, errors, graph.ModelUnderLock(), text, () => time.GetElapsedTime(started) > Limits.Timeout, ct));
    }

    private (SparqlResults?, SparqlError?) Run(IntPtr world, IReadOnlyList<string> errors, IntPtr model, byte[] text, Func<bool> late, CancellationToken ct)
    {
        using var query = new RedlandHandle(
            RedlandNative.librdf_new_query(world, RedlandNative.Utf8("sparql"), IntPtr.Zero, text, IntPtr.Zero), RedlandNative.librdf_free_query);
        if (query.IsInvalid || errors.Count > 0)
        {
            return (null, Failure(errors, SparqlError.SyntaxCode, "The query is not valid SPARQL."));
        }
        using var results = new RedlandHandle(RedlandNative.librdf_model_query_execute(model, query.DangerousGetHandle()), RedlandNative.librdf_free_query_results);
        if (results.IsInvalid || errors.Count > 0)
        {
            return (null, Failure(errors, SparqlError.SyntaxCode, "The query could not be run."));
        }
        var handle = results.DangerousGetHandle();
        if (RedlandNative.librdf_query_results_is_boolean(handle) != 0)
        {
            var answer = RedlandNative.librdf_query_results_get_boolean(handle);
            return answer < 0 || errors.Count > 0
                ? (null, Failure(errors, SparqlError.FailedCode, "The query failed while running."))
                : (new SparqlResults([], [], answer > 0), null);
        }
        if (RedlandNative.librdf_query_results_is_bindings(handle) == 0)
        {
            return (null, SparqlError.Unsupported("A query that builds a graph", "the engine answers SELECT and ASK queries only"));
        }
        return ReadRows(errors, handle, late, ct);
    }

    // Row by row, so the deadline and the row limit are checked between rows. What Rasqal does before the
    // first row (sorting, grouping, a join that filters everything out) cannot be interrupted; the
    // graph's triple limit bounds it.
    private (SparqlResults?, SparqlError?) ReadRows(IReadOnlyList<string> errors, IntPtr results, Func<bool> late, CancellationToken ct)
    {
        var count = RedlandNative.librdf_query_results_get_bindings_count(results);
        var variables = new string[Math.Max(count, 0)];
        for (var i = 0; i < variables.Length; i++)
        {
            variables[i] = RedlandNative.String(RedlandNative.librdf_query_results_get_binding_name(results, i)) ?? "_" + i;
        }
        var rows = new List<IReadOnlyDictionary<string, RdfTerm>>();
        while (RedlandNative.librdf_query_results_finished(results) == 0)
        {
            ct.ThrowIfCancellationRequested();
            if (late())
            {
                return (null, new SparqlError(SparqlError.TimeoutCode, $"The query ran longer than the limit of {Limits.Timeout.TotalSeconds:0.###} s."));
            }
            if (rows.Count == Limits.MaxRows)
            {
                return (null, SparqlError.Limit($"The query gives more than the limit of {Limits.MaxRows} rows; add a LIMIT or narrow it."));
            }
            rows.Add(Row(results, variables));
            if (RedlandNative.librdf_query_results_next(results) != 0)
            {
                break;
            }
        }
        return errors.Count > 0
            ? (null, Failure(errors, SparqlError.FailedCode, "The query failed while running."))
            : (new SparqlResults(variables, rows, null), null);
    }

    private static Dictionary<string, RdfTerm> Row(IntPtr results, string[] variables)
    {
        var row = new Dictionary<string, RdfTerm>(StringComparer.Ordinal);
        for (var i = 0; i < variables.Length; i++)
        {
            using var node = new RedlandHandle(RedlandNative.librdf_query_results_get_binding_value(results, i), RedlandNative.librdf_free_node);
            if (!node.IsInvalid && Term(node.DangerousGetHandle()) is { } term)
            {
                row[variables[i]] = term;
            }
        }
        return row;
    }

    private static RdfTerm? Term(IntPtr node)
    {
        if (RedlandNative.librdf_node_is_resource(node) != 0)
        {
            return new(RdfTermKind.Iri, UriText(RedlandNative.librdf_node_get_uri(node)) ?? "");
        }
        if (RedlandNative.librdf_node_is_blank(node) != 0)
        {
            return new(RdfTermKind.Blank, RedlandNative.String(RedlandNative.librdf_node_get_blank_identifier(node)) ?? "");
        }
        if (RedlandNative.librdf_node_is_literal(node) != 0)
        {
            var language = RedlandNative.String(RedlandNative.librdf_node_get_literal_value_language(node));
            var datatype = UriText(RedlandNative.librdf_node_get_literal_value_datatype_uri(node));
            return new(RdfTermKind.Literal, RedlandNative.String(RedlandNative.librdf_node_get_literal_value(node)) ?? "", datatype, string.IsNullOrEmpty(language) ? null : language);
        }
        return null;
    }

    private static string? UriText(IntPtr uri) => uri == IntPtr.Zero ? null : RedlandNative.String(RedlandNative.librdf_uri_as_string(uri));

    private static SparqlError Failure(IReadOnlyList<string> errors, string code, string fallback) =>
        new(code, errors.Count > 0 ? $"{fallback.TrimEnd('.')}: {string.Join("; ", errors)}" : fallback);
}
