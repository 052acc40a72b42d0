namespace Welkin.Cli.Tests.Infrastructure;

/// <summary>All CLI tests share two server processes; each test uses its own config directory and tenants.</summary>
[CollectionDefinition(Name)]
public sealed class CloudsCollection : ICollectionFixture<TwoClouds>
{
    public const string Name = "clouds";
}

public static class Names
{
    /// <summary>A unique, valid account or principal name.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():n}"[..(prefix.Length + 11)];
}
