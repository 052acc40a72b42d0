using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Welkin.Portal.Downloads;

/// <summary>Why <see cref="MultipartUpload.ReadAsync"/> refused a form.</summary>
internal enum UploadRefusal
{
    None,

    /// <summary>No antiforgery token before the file, or not this session's: the form has expired or is forged.</summary>
    Expired,

    /// <summary>A field before the file is longer than the form allows.</summary>
    FieldTooLong,
}

/// <summary>
/// A browser's multipart upload read as far as its file, and no further: the small fields before the file (few
/// and bounded), the antiforgery token among them checked as antiforgery checks a header (so the service never
/// reads, nor buffers, the form itself), then the file's section, whose body the caller streams on to the API.
/// Nothing of the file is read before the token is found valid. The server's body limit is lifted: what the
/// file may weigh is the API's to enforce as the bytes stream through.
/// </summary>
internal sealed class MultipartUpload
{
    private MultipartUpload(Dictionary<string, string> fields, UploadRefusal refusal, string? refusedField = null)
    {
        Fields = fields;
        Refusal = refusal;
        RefusedField = refusedField;
    }

    /// <summary>The fields before the file, by name (the last of a repeated name wins).</summary>
    public Dictionary<string, string> Fields { get; }

    public UploadRefusal Refusal { get; }

    /// <summary>The field that was too long, for <see cref="UploadRefusal.FieldTooLong"/>.</summary>
    public string? RefusedField { get; }

    /// <summary>The file's section; null when the form carried no file.</summary>
    public MultipartSection? File { get; private set; }

    /// <summary>The file's form field name.</summary>
    public string? FileField { get; private set; }

    /// <summary>The file's name as the browser sent it, without any folder; null when it gave none.</summary>
    public string? FileName { get; private set; }

    /// <summary>A field's trimmed value, or null when it is absent or blank.</summary>
    public string? Field(string name) =>
        Fields.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    /// <summary>The boundary of a <c>multipart/form-data</c> request; null for any other body.</summary>
    public static string? Boundary(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            ? HeaderUtilities.RemoveQuotes(type.Boundary).Value
            : null;

    /// <summary>Whether the request's body is a multipart form (with or without a boundary).</summary>
    public static bool IsMultipart(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
        && type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase);

    public static async Task<MultipartUpload> ReadAsync(HttpContext http, string boundary, int maxFields, int maxFieldBytes)
    {
        var ct = http.RequestAborted;
        // The limit can only be lifted before the body is read; the fields before the file are bounded below.
        LiftBodyLimit(http);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new MultipartReader(boundary, http.Request.Body);
        MultipartSection? file = null;
        ContentDispositionHeaderValue? fileDisposition = null;
        var sections = 0;
        while (sections++ < maxFields && await reader.ReadNextSectionAsync(ct) is { } section)
        {
            // IsFormDisposition() means a field that is not a file: a file section is form-data too.
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
            if (disposition.IsFileDisposition())
            {
                (file, fileDisposition) = (section, disposition);
                break;
            }
            if (await ReadFieldAsync(section.Body, maxFieldBytes, ct) is not { } value)
            {
                return new MultipartUpload(fields, UploadRefusal.FieldTooLong, name);
            }
            fields[name] = value;
        }

        var options = http.RequestServices.GetRequiredService<IOptions<AntiforgeryOptions>>().Value;
        if (!fields.TryGetValue(options.FormFieldName, out var token) || token.Length == 0 || options.HeaderName is not { } header)
        {
            return new MultipartUpload(fields, UploadRefusal.Expired);
        }
        http.Request.Headers[header] = token;
        if (!await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http))
        {
            return new MultipartUpload(fields, UploadRefusal.Expired);
        }
        return new MultipartUpload(fields, UploadRefusal.None)
        {
            File = file,
            FileField = fileDisposition is null ? null : HeaderUtilities.RemoveQuotes(fileDisposition.Name).Value,
            FileName = fileDisposition is null ? null : FileNameOf(fileDisposition),
        };
    }

    /// <summary>Lets the request's body be as large as the sender makes it (before any of it is read).</summary>
    public static void LiftBodyLimit(HttpContext http)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }
    }

    /// <summary>A field's text, or null when it is longer than <paramref name="maxBytes"/>.</summary>
    private static async Task<string?> ReadFieldAsync(Stream body, int maxBytes, CancellationToken ct)
    {
        var buffer = new byte[maxBytes + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(total), ct)) > 0)
        {
            total += read;
        }
        return total > maxBytes ? null : Encoding.UTF8.GetString(buffer, 0, total);
    }

    private static string? FileNameOf(ContentDispositionHeaderValue disposition)
    {
        var name = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
        return string.IsNullOrWhiteSpace(name) ? null : Path.GetFileName(name.Replace('\\', '/'));
    }
}
