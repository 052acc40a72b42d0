using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Welkin.Server.S3;

/// <summary>Registers the S3 face and, when <see cref="S3Options.Listen"/> is set, its listener.</summary>
public static class S3Setup
{
    public static WebApplicationBuilder AddS3Face(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("S3").Get<S3Options>() ?? new S3Options();
        options.Validate();
        builder.Services.AddSingleton(options);
        builder.Services.TryAddSingleton(new S3Clock(TimeProvider.System));
        builder.Services.AddSingleton<IS3Buckets, VaultBuckets>();
        builder.Services.AddSingleton<S3Authenticator>();
        builder.Services.AddSingleton<S3Objects>();
        builder.Services.AddSingleton<S3Listing>();
        builder.Services.AddSingleton<S3ObjectLock>();
        builder.Services.AddSingleton<S3Multipart>();
        builder.Services.AddSingleton<S3Gateway>();
        if (options.Enabled)
        {
            builder.WebHost.ConfigureKestrel(k => k.Listen(options.Endpoint(), listen => listen.Use(next => connection =>
            {
                connection.Features.Set(S3ConnectionFeature.Instance);
                return next(connection);
            })));
        }
        return builder;
    }

    /// <summary>
    /// Sends every request of an S3 connection to the S3 face (first thing after the correlation id).
    /// The gateway is resolved at the first request, not when the pipeline is built: that happens
    /// before start-up has checked the port and made the data directory the sealing key lives in.
    /// </summary>
    public static IApplicationBuilder UseS3Face(this IApplicationBuilder app) =>
        app.MapWhen(context => context.Features.Get<S3ConnectionFeature>() is not null,
            s3 => s3.Run(context => context.RequestServices.GetRequiredService<S3Gateway>().InvokeAsync(context)));
}
