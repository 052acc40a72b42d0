using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Welkin.Contracts;
using Welkin.Server.Tests.Infrastructure;

namespace Welkin.Server.Tests.Uploads;

/// <summary>Uploads and account images through the HTTP API, as a consumer calls them.</summary>
public static class UploadsApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A raw disk of <paramref name="size"/> bytes: a zero first sector (so no format is mistaken), then random bytes.</summary>
    public static byte[] Disk(int size = 1 << 20)
    {
        var bytes = new byte[size];
        RandomNumberGenerator.Fill(bytes.AsSpan(512));
        return bytes;
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static Task<HttpResponseMessage> PostCreateAsync(HttpClient client, long size, string sha256) =>
        client.PostAsJsonAsync("/api/v1/uploads", new CreateUploadRequest(size, sha256), WelkinJson.Client, Ct);

    public static async Task<UploadView> CreateAsync(HttpClient client, byte[] content) =>
        await (await PostCreateAsync(client, content.Length, Sha256(content))).ReadAsync<UploadView>(HttpStatusCode.Created);

    /// <summary>PUTs <paramref name="content"/>[first..last] with <c>Content-Range: bytes first-last/size</c> (or the header given).</summary>
    public static Task<HttpResponseMessage> PutAsync(HttpClient client, string id, byte[] content, long first, long last, string? contentRange = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/uploads/{id}")
        {
            Content = new ByteArrayContent(content, (int)first, (int)(last - first + 1)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Content.Headers.TryAddWithoutValidation("Content-Range",
            contentRange ?? string.Create(CultureInfo.InvariantCulture, $"bytes {first}-{last}/{content.Length}"));
        return client.SendAsync(request, Ct);
    }

    public static async Task<UploadView> CompleteAsync(HttpClient client, byte[] content)
    {
        var upload = await CreateAsync(client, content);
        return await (await PutAsync(client, upload.Id, content, 0, content.Length - 1)).ReadAsync<UploadView>();
    }

    public static async Task<UploadView> HalfUploadAsync(HttpClient client)
    {
        var content = Disk(64 * 1024);
        var upload = await CreateAsync(client, content);
        return await (await PutAsync(client, upload.Id, content, 0, content.Length / 2 - 1)).ReadAsync<UploadView>();
    }

    public static Task<HttpResponseMessage> PostImageAsync(HttpClient client, string uploadId, string name) =>
        client.PostAsJsonAsync("/api/v1/account-images", new CreateAccountImageRequest(uploadId, name), WelkinJson.Client, Ct);

    /// <summary>Uploads a plain raw disk and makes an image of the account from it.</summary>
    public static async Task<AccountImageView> AccountImageAsync(HttpClient client, string name, byte[]? disk = null)
    {
        var upload = await CompleteAsync(client, disk ?? Disk());
        return await (await PostImageAsync(client, upload.Id, name)).ReadAsync<AccountImageView>(HttpStatusCode.Created);
    }
}
