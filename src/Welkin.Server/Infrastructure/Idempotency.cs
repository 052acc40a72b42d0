using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Welkin.Core.Common;

namespace Welkin.Server.Infrastructure;

/// <summary>
/// The <c>Idempotency-Key</c> request header (draft-ietf-httpapi-idempotency-key-header) on creating
/// routes. A key belongs to the calling principal and the route (method and path): the first
/// answer is kept with a fingerprint of the request; a retry with the same fingerprint gets that
/// answer again and creates nothing, another fingerprint is refused with 422, and a retry while
/// the first request is still running gets 409.
/// </summary>
public static class Idempotency
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    internal const string ItemKey = "welkin.idempotency";

    /// <summary>
    /// Honours <c>Idempotency-Key</c> on this route. With <paramref name="streamedBody"/> the body is
    /// not bound (an image upload): its SHA-256 joins the fingerprint.
    /// </summary>
    public static RouteHandlerBuilder WithIdempotency(this RouteHandlerBuilder builder, bool streamedBody = false) =>
        builder.AddEndpointFilter<IdempotencyFilter>()
            .WithMetadata(new IdempotentRoute(streamedBody))
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = Header,
                    In = ParameterLocation.Header,
                    Required = false,
                    Description = "1-255 printable ASCII characters chosen by the client (a UUID): a retry with the same key and body "
                        + "gets the first answer and creates nothing; the same key with another body is refused (422).",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = IdempotencyKeys.MaxKeyLength },
                });
                return Task.CompletedTask;
            });

    /// <summary>
    /// The write a creating handler hands to its operation when the request carries a key, so the
    /// answer is recorded in the creating transaction; null without a key.
    /// </summary>
    public static IdempotentWrite<T>? Once<T>(this HttpContext context, int status, Func<T, string?> location, Func<T, string>? contentDigest = null)
    {
        if (!context.Items.TryGetValue(ItemKey, out var item) || item is not IdempotentRequest request)
        {
            return null;
        }
        var json = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        return context.RequestServices.GetRequiredService<IdempotencyKeys>().For<T>(request.Claim,
            v => new IdempotentAnswer(request.RequestHash(contentDigest?.Invoke(v)), status, location(v), JsonSerializer.Serialize(v, json)));
    }
}

internal sealed record IdempotentRoute(bool StreamedBody);

/// <summary>A request under a key not answered yet: the claim and the fingerprint of what was bound.</summary>
internal sealed record IdempotentRequest(IdempotencyClaim Claim, string Fingerprint)
{
    public string RequestHash(string? contentDigest) =>
        contentDigest is null ? Fingerprint : Sha256Hex(Fingerprint + "\n" + contentDigest);

    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}

/// <summary>The keys being answered on this server: a second request with one of them waits for nothing and gets 409.</summary>
public sealed class IdempotencyGate
{
    private readonly ConcurrentDictionary<IdempotencyClaim, byte> _running = new();

    public bool TryEnter(IdempotencyClaim claim) => _running.TryAdd(claim, 0);

    public void Exit(IdempotencyClaim claim) => _running.TryRemove(claim, out _);
}

public sealed class IdempotencyFilter(IdempotencyKeys keys, IdempotencyGate gate, IOptions<JsonOptions> json) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var values = http.Request.Headers[Idempotency.Header];
        if (values.Count == 0)
        {
            return await next(context);
        }
        if (values.Count > 1 || values[0] is not { } key || !IdempotencyKeys.IsValidKey(key))
        {
            return Problems.From(Error.Validation(Idempotency.Header,
                $"{Idempotency.Header} must be one value of 1-{IdempotencyKeys.MaxKeyLength} printable ASCII characters without surrounding spaces."), http);
        }
        var caller = TokenAuthenticationHandler.CallerOf(http);
        var claim = new IdempotencyClaim(caller.PrincipalId, $"{http.Request.Method} {http.Request.Path.Value}", key);
        if (!gate.TryEnter(claim))
        {
            return Problems.From(IdempotencyKeys.InProgress(), http);
        }
        try
        {
            var request = new IdempotentRequest(claim, Fingerprint(context));
            var stored = await keys.FindAsync(claim, http.RequestAborted);
            if (stored is null)
            {
                http.Items[Idempotency.ItemKey] = request;
                return await next(context);
            }
            var streamed = http.GetEndpoint()?.Metadata.GetMetadata<IdempotentRoute>() is { StreamedBody: true };
            var hash = request.RequestHash(streamed ? await BodyDigestAsync(http) : null);
            if (hash != stored.RequestHash)
            {
                return Problems.From(new Error("idempotency-key-reused", ErrorKind.Unprocessable,
                    $"This {Idempotency.Header} was used for a different request; use a new key for a new request."), http);
            }
            return new Replay(stored);
        }
        finally
        {
            gate.Exit(claim);
        }
    }

    /// <summary>
    /// The request as bound: its query and its Welkin request records serialized as the API reads
    /// them, so a retry that differs only in spacing or member order is the same request.
    /// </summary>
    private string Fingerprint(EndpointFilterInvocationContext context)
    {
        var text = new StringBuilder(context.HttpContext.Request.QueryString.Value);
        foreach (var argument in context.Arguments)
        {
            if (argument is not null && argument.GetType().Assembly == typeof(Contracts.ProvisionRequest).Assembly)
            {
                text.Append('\n').Append(JsonSerializer.Serialize(argument, argument.GetType(), json.Value.SerializerOptions));
            }
        }
        return IdempotentRequest.Sha256Hex(text.ToString());
    }

    private static async Task<string> BodyDigestAsync(HttpContext http)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit
            && http.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>() is { } declared)
        {
            limit.MaxRequestBodySize = declared.MaxRequestBodySize;
        }
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(http.Request.Body, http.RequestAborted));
    }

    private sealed class Replay(IdempotentAnswer answer) : IResult, IStatusCodeHttpResult
    {
        public int? StatusCode => answer.Status;

        public Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = answer.Status;
            response.ContentType = "application/json; charset=utf-8";
            response.Headers[Idempotency.ReplayedHeader] = "true";
            if (answer.Location is not null)
            {
                response.Headers.Location = answer.Location;
            }
            return response.WriteAsync(answer.Body, httpContext.RequestAborted);
        }
    }
}
