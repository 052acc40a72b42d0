using Welkin.Server.S3;

namespace Welkin.Server.Tests.S3;

/// <summary>
/// Signature Version 4 against AWS's published S3 examples, with their example credentials
/// (AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, us-east-1, 2013-05-24):
/// "Examples: Signature Calculations" of "Signature Calculations for the Authorization Header"
/// (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html) and the presigned URL example of
/// "Authenticating Requests: Using Query Parameters" (docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
/// </summary>
public sealed class SigV4Tests
{
    private const string Secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    private const string Host = "examplebucket.s3.amazonaws.com";
    private const string AmzDate = "20130524T000000Z";
    private const string Scope = "20130524/us-east-1/s3/aws4_request";

    private static string Sign(string method, string rawPath, string rawQuery, Dictionary<string, string> headers, string payload, bool presigned = false)
    {
        var names = headers.Keys.Order(StringComparer.Ordinal).ToList();
        var canonical = SigV4.CanonicalRequest(
            new SigV4Request(method, rawPath, rawQuery, n => headers.GetValueOrDefault(n), payload), names, presigned);
        canonical.ShouldNotBeNull();
        return SigV4.Signature(SigV4.SigningKey(Secret, "20130524", "us-east-1", "s3"), SigV4.StringToSign(AmzDate, Scope, canonical));
    }

    [Fact]
    public void GetObject_WithRange_MatchesAwsExample()
    {
        var headers = new Dictionary<string, string>
        {
            ["host"] = Host, ["range"] = "bytes=0-9", ["x-amz-content-sha256"] = SigV4.EmptySha256, ["x-amz-date"] = AmzDate,
        };
        var canonical = SigV4.CanonicalRequest(new SigV4Request("GET", "/test.txt", "", n => headers.GetValueOrDefault(n), SigV4.EmptySha256),
            ["host", "range", "x-amz-content-sha256", "x-amz-date"], presigned: false)!;

        SigV4.StringToSign(AmzDate, Scope, canonical).ShouldEndWith("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
        Sign("GET", "/test.txt", "", headers, SigV4.EmptySha256).ShouldBe("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }

    [Theory]
    [InlineData("/test%24file.text")]
    [InlineData("/test$file.text")]
    public void PutObject_KeyWithDollar_MatchesAwsExample_HoweverTheClientEncodedIt(string rawPath)
    {
        const string payload = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
        var headers = new Dictionary<string, string>
        {
            ["date"] = "Fri, 24 May 2013 00:00:00 GMT", ["host"] = Host, ["x-amz-content-sha256"] = payload, ["x-amz-date"] = AmzDate,
            ["x-amz-storage-class"] = "REDUCED_REDUNDANCY",
        };

        Sign("PUT", rawPath, "", headers, payload).ShouldBe("98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    }

    [Fact]
    public void GetBucketLifecycle_ParameterWithoutValue_MatchesAwsExample()
    {
        var headers = new Dictionary<string, string> { ["host"] = Host, ["x-amz-content-sha256"] = SigV4.EmptySha256, ["x-amz-date"] = AmzDate };

        Sign("GET", "/", "lifecycle", headers, SigV4.EmptySha256).ShouldBe("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    }

    [Theory]
    [InlineData("max-keys=2&prefix=J")]
    [InlineData("prefix=J&max-keys=2")]
    public void ListObjects_QuerySortedWhateverItsOrder_MatchesAwsExample(string query)
    {
        var headers = new Dictionary<string, string> { ["host"] = Host, ["x-amz-content-sha256"] = SigV4.EmptySha256, ["x-amz-date"] = AmzDate };

        Sign("GET", "/", query, headers, SigV4.EmptySha256).ShouldBe("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    }

    [Fact]
    public void PresignedUrl_MatchesAwsExample_WithoutItsOwnSignatureParameter()
    {
        const string query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        var headers = new Dictionary<string, string> { ["host"] = Host };

        Sign("GET", "/test.txt", query, headers, SigV4.UnsignedPayload, presigned: true)
            .ShouldBe("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    }

    [Theory]
    [InlineData("/a b/c", "/a%20b/c")]
    [InlineData("/a%20b/%7Ekey~", "/a%20b/~key~")]
    [InlineData("/photos/2026/%E6%97%A5%E6%9C%AC.jpg", "/photos/2026/%E6%97%A5%E6%9C%AC.jpg")]
    [InlineData("/k+plus", "/k%2Bplus")]
    [InlineData("/double%2520encoded", "/double%2520encoded")]
    [InlineData("/a/./b/../c//d", "/a/./b/../c//d")]
    public void CanonicalPath_DecodesOnceEncodesOnce_NeverNormalizes(string raw, string canonical) =>
        SigV4.CanonicalPath(raw).ShouldBe(canonical);

    [Theory]
    [InlineData("/bad%zz")]
    [InlineData("/truncated%4")]
    public void CanonicalPath_MalformedEscape_IsNull(string raw) => SigV4.CanonicalPath(raw).ShouldBeNull();

    [Fact]
    public void CanonicalQuery_EncodesSlashAndSpace_SortsByNameThenValue() =>
        SigV4.CanonicalQuery("prefix=a/b c&delimiter=%2F&a=2&a=1&flag", presigned: false).ShouldBe("a=1&a=2&delimiter=%2F&flag=&prefix=a%2Fb%20c");

    [Fact]
    public void CanonicalHeaderValue_TrimsAndCollapsesSpaces() =>
        SigV4.CanonicalHeaderValue("  a   b  c ").ShouldBe("a b c");
}
