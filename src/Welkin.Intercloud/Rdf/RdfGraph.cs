using System.Text;

namespace Welkin.Intercloud.Rdf;

public enum RdfSyntax
{
    Turtle,
    NTriples,
}

/// <summary>
/// An in-memory RDF graph held by Redland (a "hashes" storage kept in memory, and its model). Loaded
/// once, queried by <see cref="SparqlEngine"/> any number of times; disposing it frees the model, then
/// the storage.
/// </summary>
/// <remarks>
/// The "hashes" storage indexes statements by subject and predicate, predicate and object, and subject
/// and object, so Rasqal's joins look statements up rather than scan the graph: over a 1,000-offering
/// description (48,000 triples) a selection query takes about 90 ms instead of minutes, and a load grows
/// with the triples rather than with their square (the "memory" storage compares each new statement
/// with all before it: 44 s for 59,000 triples).
/// </remarks>
public sealed class RdfGraph : IDisposable
{
    private readonly RedlandHandle _storage;
    private readonly RedlandHandle _model;

    private RdfGraph(RedlandHandle storage, RedlandHandle model, int triples)
    {
        _storage = storage;
        _model = model;
        Triples = triples;
    }

    public int Triples { get; }

    // Callers hold Redland's lock, which Dispose takes too, so the model cannot be freed under a query.
    internal IntPtr ModelUnderLock()
    {
        ObjectDisposedException.ThrowIf(_model.IsClosed, this);
        return _model.DangerousGetHandle();
    }

    public static (RdfGraph? Graph, SparqlError? Error) Load(string text, RdfSyntax syntax, Uri baseUri, SparqlLimits limits, TimeProvider time) =>
        Load(Encoding.UTF8.GetBytes(text), syntax, baseUri, limits, time);

    /// <summary>Parses UTF-8 <paramref name="utf8"/>; relative IRIs resolve against <paramref name="baseUri"/> (required by Redland for text).</summary>
    public static (RdfGraph? Graph, SparqlError? Error) Load(ReadOnlySpan<byte> utf8, RdfSyntax syntax, Uri baseUri, SparqlLimits limits, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(baseUri);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(time);
        if (utf8.Length > limits.MaxTextBytes)
        {
            return (null, SparqlError.Limit($"The RDF text is larger than the limit of {limits.MaxTextBytes} bytes."));
        }
        if (utf8.Contains((byte)0))
        {
            return (null, new SparqlError(SparqlError.RdfSyntaxCode, "The RDF text contains a NUL character."));
        }
        if (!baseUri.IsAbsoluteUri)
        {
            return (null, new SparqlError(SparqlError.RdfSyntaxCode, "The base URI must be absolute."));
        }
        var text = RedlandNative.Utf8(utf8);
        var started = time.GetTimestamp();
        return Redland.Use((world, errors) => Parse(world, errors, text, syntax, baseUri, limits, () => time.GetElapsedTime(started) > limits.Timeout));
    }

    private static (RdfGraph?, SparqlError?) Parse(
        IntPtr world, IReadOnlyList<string> errors, byte[] text, RdfSyntax syntax, Uri baseUri, SparqlLimits limits, Func<bool> late)
    {
        var storage = new RedlandHandle(
            RedlandNative.librdf_new_storage(world, RedlandNative.Utf8("hashes"), RedlandNative.Utf8("description"), RedlandNative.Utf8("hash-type='memory'")),
            RedlandNative.librdf_free_storage);
        var model = new RedlandHandle(storage.IsInvalid ? IntPtr.Zero : RedlandNative.librdf_new_model(world, storage.DangerousGetHandle(), IntPtr.Zero), RedlandNative.librdf_free_model);
        if (model.IsInvalid)
        {
            model.Dispose();
            storage.Dispose();
            throw new InvalidOperationException("Redland could not create an in-memory model");
        }
        var error = Fill(world, errors, model.DangerousGetHandle(), text, syntax, baseUri, limits, late, out var triples);
        if (error is not null)
        {
            model.Dispose();
            storage.Dispose();
            return (null, error);
        }
        return (new RdfGraph(storage, model, triples), null);
    }

    private static SparqlError? Fill(
        IntPtr world, IReadOnlyList<string> errors, IntPtr model, byte[] text, RdfSyntax syntax, Uri baseUri, SparqlLimits limits, Func<bool> late, out int triples)
    {
        triples = 0;
        var parserName = syntax == RdfSyntax.Turtle ? "turtle" : "ntriples";
        using var parser = new RedlandHandle(RedlandNative.librdf_new_parser(world, RedlandNative.Utf8(parserName), IntPtr.Zero, IntPtr.Zero), RedlandNative.librdf_free_parser);
        using var uri = new RedlandHandle(RedlandNative.librdf_new_uri(world, RedlandNative.Utf8(baseUri.AbsoluteUri)), RedlandNative.librdf_free_uri);
        if (parser.IsInvalid || uri.IsInvalid)
        {
            return new SparqlError(SparqlError.RdfSyntaxCode, "The base URI is not acceptable to the RDF parser.");
        }
        // parse_string_into_model rather than adding a parse stream's statements one by one: with the
        // latter, Rasqal's COUNT(DISTINCT ...) over the model varies from run to run (measured). So the
        // text limit bounds the parse, and the triple limit is checked once it is done.
        if (RedlandNative.librdf_parser_parse_string_into_model(parser.DangerousGetHandle(), text, uri.DangerousGetHandle(), model) != 0 || errors.Count > 0)
        {
            return RdfSyntaxError(errors);
        }
        if (late())
        {
            return new SparqlError(SparqlError.TimeoutCode, $"Loading the graph took longer than the limit of {limits.Timeout.TotalSeconds:0.###} s.");
        }
        triples = RedlandNative.librdf_model_size(model);
        return triples > limits.MaxTriples ? SparqlError.Limit($"The graph has more than the limit of {limits.MaxTriples} triples.") : null;
    }

    private static SparqlError RdfSyntaxError(IReadOnlyList<string> errors) =>
        new(SparqlError.RdfSyntaxCode, errors.Count > 0 ? "The RDF text is not well formed: " + string.Join("; ", errors) : "The RDF text is not well formed.");

    public void Dispose()
    {
        Redland.Use((_, _) =>
        {
            _model.Dispose();
            _storage.Dispose();
            return 0;
        });
    }
}
