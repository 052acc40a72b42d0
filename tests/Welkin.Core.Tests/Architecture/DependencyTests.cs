using System.Reflection;
using System.Xml.Linq;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Testing;

namespace Welkin.Core.Tests.Architecture;

/// <summary>
/// Dependencies point down: Core knows abstractions only (no web framework, database provider,
/// driver or transport), Contracts knows nothing of Welkin, and the client knows the contracts but
/// not Core. Checked on the compiled assemblies and on the project files.
/// </summary>
public sealed class DependencyTests
{
    // Web framework and database providers: what Core must never reference, directly or in its project file.
    private static readonly string[] InfrastructurePrefixes =
    [
        "Microsoft.AspNetCore", "Microsoft.Data.Sqlite", "Microsoft.Data.SqlClient", "Microsoft.EntityFrameworkCore",
        "Npgsql", "SQLitePCL", "MySqlConnector",
    ];

    private static readonly Assembly Core = typeof(Error).Assembly;
    private static readonly Assembly Contracts = typeof(WelkinJson).Assembly;
    private static readonly Assembly Client = typeof(WelkinClient).Assembly;

    [Fact]
    public void CoreAssembly_ReferencesNoWebFrameworkDatabaseProviderDriverOrTransport()
    {
        var references = Core.GetReferencedAssemblies().Select(a => a.Name!).ToList();

        references.Where(IsInfrastructure).ShouldBeEmpty();
        references.Where(r => r.StartsWith("Welkin.", StringComparison.Ordinal)).ShouldBe(["Welkin.Contracts"]);
        references.ShouldContain("Microsoft.Extensions.DependencyInjection.Abstractions", "the check found Core's references");
    }

    [Fact]
    public void CoreProject_HasNoFrameworkReference_AndOnlyAbstractionPackages()
    {
        var project = Project("Welkin.Core");

        Items(project, "FrameworkReference").ShouldBeEmpty("Core builds on the base framework and Microsoft.Extensions.*.Abstractions packages only");
        Items(project, "PackageReference").Where(IsInfrastructure).ShouldBeEmpty();
        ProjectReferences(project).ShouldBe(["Welkin.Contracts"]);
    }

    [Fact]
    public void Contracts_ReferenceNothingOfWelkin()
    {
        Contracts.GetReferencedAssemblies().Select(a => a.Name!).Where(r => r.StartsWith("Welkin.", StringComparison.Ordinal)).ShouldBeEmpty();
        ProjectReferences(Project("Welkin.Contracts")).ShouldBeEmpty();
    }

    [Fact]
    public void Client_ReferencesTheContractsButNotCore()
    {
        Client.GetReferencedAssemblies().Select(a => a.Name!).Where(r => r.StartsWith("Welkin.", StringComparison.Ordinal)).ShouldBe(["Welkin.Contracts"]);
        ProjectReferences(Project("Welkin.Client")).ShouldBe(["Welkin.Contracts"]);
    }

    [Fact]
    public void Portal_ReachesTheCloudThroughTheClientOnly()
    {
        // The portal can do nothing the API refuses because it holds nothing but the API's client.
        ProjectReferences(Project("Welkin.Portal")).ShouldBe(["Welkin.Client"]);
        Items(Project("Welkin.Portal"), "PackageReference").ShouldBeEmpty();
    }

    private static bool IsInfrastructure(string name) =>
        InfrastructurePrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    private static XDocument Project(string name) =>
        XDocument.Load(Repository.Path("src", name, name + ".csproj"));

    private static List<string> Items(XDocument project, string kind) =>
        project.Descendants(kind).Select(e => (string?)e.Attribute("Include") ?? "").ToList();

    private static List<string> ProjectReferences(XDocument project) =>
        Items(project, "ProjectReference").Select(p => Path.GetFileNameWithoutExtension(p.Replace('\\', '/'))).Order(StringComparer.Ordinal).ToList();
}
