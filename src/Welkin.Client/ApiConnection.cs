using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>
/// The HTTP plumbing shared by the sub-clients: builds request URIs under the endpoint, attaches
/// the bearer token to each request (never to the shared <see cref="HttpClient"/>, which may serve
/// several identities), and turns error responses into <see cref="WelkinApiException"/>.
/// </summary>
internal sealed class ApiConnection(HttpClient http, Uri endpoint, string? token)
{
    private const string CorrelationHeader = "X-Correlation-Id";
    private static readonly ProductInfoHeaderValue UserAgent = new("welkin-client", typeof(ApiConnection).Assembly.GetName().Version?.ToString(3) ?? "1.0.0");

    public Uri Endpoint { get; } = endpoint;

    public bool HasToken => token is not null;

    public Uri Resolve(string path, params (string Name, object? Value)[] query)
    {
        var builder = new StringBuilder(path);
        var separator = '?';
        foreach (var (name, value) in query)
        {
            var text = value switch
            {
                null => null,
                Enum e => JsonNamingPolicy.KebabCaseLower.ConvertName(e.ToString()),
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => value.ToString(),
            };
            if (text is null)
            {
                continue;
            }
            builder.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(text));
            separator = '&';
        }
        return new Uri(Endpoint, builder.ToString());
    }

    public static string Segment(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        return Uri.EscapeDataString(id);
    }

    public async Task<T> GetAsync<T>(Uri uri, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        return await ReadAsync<T>(request, ct);
    }

    public async Task<T> SendJsonAsync<T>(HttpMethod method, Uri uri, object? body, CancellationToken ct, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: WelkinJson.Client);
        }
        return await ReadAsync<T>(request, ct);
    }

    public async Task<T> ReadAsync<T>(HttpRequestMessage request, CancellationToken ct)
    {
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return await ReadBodyAsync<T>(response, ct);
    }

    /// <summary>Sends the request; on an error status reads the problem and throws, on success hands the response over.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken ct)
    {
        request.Headers.UserAgent.Add(UserAgent);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        var response = await http.SendAsync(request, completion, ct);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            throw new WelkinApiException(await ReadProblemAsync(response, ct));
        }
    }

    /// <summary>
    /// Opens a WebSocket to <paramref name="uri"/> (http becomes ws, https wss) carrying the bearer token and offering
    /// <paramref name="subprotocol"/>. A refused upgrade throws <see cref="WelkinApiException"/>: the problem is read
    /// with a plain GET of the same route, which answers the same checks, or is made from the status alone.
    /// </summary>
    public async Task<System.Net.WebSockets.WebSocket> ConnectWebSocketAsync(Uri uri, string? subprotocol, CancellationToken ct)
    {
        var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("User-Agent", UserAgent.ToString());
        if (token is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }
        if (subprotocol is not null)
        {
            socket.Options.AddSubProtocol(subprotocol);
        }
        var target = new UriBuilder(uri) { Scheme = uri.Scheme == Uri.UriSchemeHttps ? "wss" : "ws" }.Uri;
        try
        {
            await socket.ConnectAsync(target, ct);
            return socket;
        }
        catch (System.Net.WebSockets.WebSocketException) when (socket.HttpStatusCode is var status && (int)status >= 400)
        {
            socket.Dispose();
            WelkinProblem? problem = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                using var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            }
            catch (WelkinApiException e) when (e.StatusCode == (int)status)
            {
                problem = e.Problem;
            }
            catch (HttpRequestException)
            {
                // The problem's words are lost; its status is not.
            }
            var code = (int)status;
            throw new WelkinApiException(problem ?? new WelkinProblem(code, "http-" + code.ToString(CultureInfo.InvariantCulture), status.ToString(), null, null, null));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static async Task<T> ReadBodyAsync<T>(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var value = await response.Content.ReadFromJsonAsync<T>(WelkinJson.Client, ct);
            return value ?? throw new WelkinProtocolException($"{Describe(response)} answered an empty body.");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            throw new WelkinProtocolException($"{Describe(response)} answered a body this client cannot read ({(e is JsonException json ? WelkinJson.Describe(json) : "not JSON")}).", e);
        }
    }

    private static string Describe(HttpResponseMessage response) =>
        $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}";

    internal static async Task<WelkinProblem> ReadProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var correlation = response.Headers.TryGetValues(CorrelationHeader, out var values) ? values.FirstOrDefault() : null;
        var fallback = new WelkinProblem(status, "http-" + status.ToString(CultureInfo.InvariantCulture),
            response.ReasonPhrase is { Length: > 0 } reason ? reason : ((HttpStatusCode)status).ToString(), null, null, correlation);
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(ct);
        }
        catch (HttpRequestException)
        {
            return fallback;
        }
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is not ("application/problem+json" or "application/json") || body.Length == 0)
        {
            return fallback with { Detail = Snippet(body) };
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return fallback with { Detail = Snippet(body) };
            }
            return new WelkinProblem(
                status,
                String(root, "code") ?? fallback.Code,
                String(root, "title") ?? fallback.Title,
                String(root, "detail"),
                FieldErrors(root),
                String(root, "correlationId") ?? correlation,
                String(root, "type"));
        }
        catch (JsonException)
        {
            return fallback with { Detail = Snippet(body) };
        }
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static Dictionary<string, string[]>? FieldErrors(JsonElement root)
    {
        if (!root.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        var result = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var field in errors.EnumerateObject())
        {
            result[field.Name] = field.Value.ValueKind switch
            {
                JsonValueKind.Array => field.Value.EnumerateArray().Select(m => m.ValueKind == JsonValueKind.String ? m.GetString()! : m.GetRawText()).ToArray(),
                JsonValueKind.String => [field.Value.GetString()!],
                _ => [field.Value.GetRawText()],
            };
        }
        return result;
    }

    private static string? Snippet(string body)
    {
        var text = body.Trim();
        return text.Length == 0 ? null : text.Length <= 200 ? text : text[..200] + "…";
    }
}
