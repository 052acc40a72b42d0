namespace Welkin.Server.S3;

/// <summary>
/// The S3 operations this face serves, by AWS's operation names. Tenant isolation is tested per
/// operation (the tests' isolation table classifies each; its meta-test fails for one missing there):
/// when the dispatch (<see cref="S3Gateway"/>, <see cref="S3Objects"/>) serves a new operation, add
/// its name here and its line to that table.
/// </summary>
public static class S3Operations
{
    public static readonly IReadOnlyList<string> Served =
    [
        "ListBuckets",
        "HeadBucket",
        "GetBucketVersioning",
        "GetObjectLockConfiguration",
        "GetBucketLocation",
        "ListObjects",
        "ListObjectsV2",
        "PutObject",
        "GetObject",
        "HeadObject",
        "DeleteObject",
        "PutBucketVersioning",
        "PutObjectLockConfiguration",
        "GetObjectRetention",
        "PutObjectRetention",
        "GetObjectLegalHold",
        "PutObjectLegalHold",
        "ListMultipartUploads",
        "CreateMultipartUpload",
        "UploadPart",
        "ListParts",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "ListObjectVersions",
        "DeleteObjects",
        "CopyObject",
    ];
}
