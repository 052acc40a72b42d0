using System.Globalization;
using System.Xml;

namespace Welkin.Server.S3;

/// <summary>Set on a connection that came in through the S3 listener: its requests are S3's, never the API's.</summary>
public sealed class S3ConnectionFeature
{
    public static readonly S3ConnectionFeature Instance = new();
}

/// <summary>
/// The S3 face's pipeline, the end of every request on the S3 listener: authenticates the signature,
/// splits the path-style address into bucket and key, runs the operation, and answers failures with
/// S3's XML errors (an unexpected exception too: InternalError, without internals).
/// </summary>
public sealed class S3Gateway(S3Authenticator authenticator, IS3Buckets buckets, S3Objects objects, ILogger<S3Gateway> logger)
{
    public const string Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

    public async Task InvokeAsync(HttpContext context)
    {
        var resource = "/";
        try
        {
            var path = SigV4.Unescape(S3Authenticator.RawTarget(context).Path);
            if (path is null || !path.StartsWith('/'))
            {
                await S3Errors.WriteAsync(context, S3Errors.InvalidUri(), resource);
                return;
            }
            resource = path;
            var (identity, refused) = await authenticator.AuthenticateAsync(context);
            if (refused is not null)
            {
                await S3Errors.WriteAsync(context, refused, resource);
                return;
            }
            var error = await DispatchAsync(context, identity!, path);
            if (error is not null)
            {
                if (error.Cause is not null)
                {
                    logger.LogInformation("S3 {Code} on {Method}: {Cause}", error.Code, context.Request.Method, error.Cause);
                }
                await S3Errors.WriteAsync(context, error, resource);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nobody is left to answer.
        }
        catch (S3PayloadException payload) when (!context.Response.HasStarted)
        {
            await S3Errors.WriteAsync(context, payload.Error, resource);
        }
        catch (BadHttpRequestException bad) when (!context.Response.HasStarted)
        {
            await S3Errors.WriteAsync(context, bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? new S3Error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size.")
                : S3Errors.InvalidRequest("The request could not be read."), resource);
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            logger.LogError(e, "Unhandled error on S3 {Method}", context.Request.Method);
            await S3Errors.WriteAsync(context, S3Errors.Internal(), resource);
        }
    }

    private async Task<S3Error?> DispatchAsync(HttpContext context, S3Identity identity, string path)
    {
        var slash = path.IndexOf('/', 1);
        var bucket = slash < 0 ? path[1..] : path[1..slash];
        var method = context.Request.Method;
        if (bucket.Length == 0)
        {
            return HttpMethods.IsGet(method) ? await ListBucketsAsync(context, identity) : S3Errors.MethodNotAllowed();
        }
        var owned = await buckets.ListAsync(identity.Caller, context.RequestAborted);
        if (!owned.IsSuccess)
        {
            return S3Errors.From(owned.Error!, () => S3Errors.NoSuchBucket(bucket));
        }
        // Another account's bucket answers as a missing one, so names leak nothing.
        return owned.Value.FirstOrDefault(b => b.Name == bucket) switch
        {
            null => S3Errors.NoSuchBucket(bucket),
            { VaultId: { } vaultId } found => await objects.DispatchAsync(context, identity, found, vaultId, slash < 0 ? "" : path[(slash + 1)..]),
            _ => S3Errors.NotImplemented("This operation is not available on this endpoint yet."),
        };
    }

    private async Task<S3Error?> ListBucketsAsync(HttpContext context, S3Identity identity)
    {
        var listed = await buckets.ListAsync(identity.Caller, context.RequestAborted);
        if (!listed.IsSuccess)
        {
            return S3Errors.From(listed.Error!);
        }
        var caller = identity.Caller;
        await WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "ListAllMyBucketsResult", Namespace);
            await xml.WriteStartElementAsync(null, "Owner", Namespace);
            await xml.WriteElementStringAsync(null, "ID", Namespace, caller.AccountId ?? caller.PrincipalId);
            await xml.WriteElementStringAsync(null, "DisplayName", Namespace, S3Errors.XmlText(caller.Name));
            await xml.WriteEndElementAsync();
            await xml.WriteStartElementAsync(null, "Buckets", Namespace);
            foreach (var bucket in listed.Value.OrderBy(b => b.Name, StringComparer.Ordinal))
            {
                await xml.WriteStartElementAsync(null, "Bucket", Namespace);
                await xml.WriteElementStringAsync(null, "Name", Namespace, S3Errors.XmlText(bucket.Name));
                await xml.WriteElementStringAsync(null, "CreationDate", Namespace, Timestamp(bucket.Created));
                await xml.WriteEndElementAsync();
            }
            await xml.WriteEndElementAsync();
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    /// <summary>S3's timestamps in XML bodies: ISO 8601 with milliseconds, UTC.</summary>
    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>Writes a 200 XML answer with <c>x-amz-request-id</c>.</summary>
    public static async Task WriteXmlAsync(HttpContext context, Func<XmlWriter, Task> write)
    {
        await using var stream = new MemoryStream();
        await using (var xml = XmlWriter.Create(stream, new XmlWriterSettings { Async = true, Encoding = new System.Text.UTF8Encoding(false) }))
        {
            await xml.WriteStartDocumentAsync();
            await write(xml);
        }
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        response.ContentType = "application/xml";
        response.ContentLength = stream.Length;
        await response.Body.WriteAsync(stream.ToArray(), context.RequestAborted);
    }
}
