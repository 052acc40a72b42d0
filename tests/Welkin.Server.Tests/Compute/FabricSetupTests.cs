using Microsoft.Extensions.Configuration;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Tests.Compute;

/// <summary>How the configuration declares the host pools, and the declarations that cannot work.</summary>
public sealed class FabricSetupTests
{
    private const string DataDir = "/var/lib/welkin";

    private static IReadOnlyList<PoolDeclaration> Declare(params (string Key, string Value)[] settings) =>
        FabricSetup.Declare(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build(), DataDir);

    [Fact]
    public void WithoutPools_TheFabricOptionIsOnePoolNamedAfterItsDriver_WithTheFabricSection()
    {
        var pool = Declare(("Welkin:Fabric", "qemu"), ("Fabric:Root", "/srv/qemu")).ShouldHaveSingleItem();

        (pool.Name, pool.Driver, pool.Root).ShouldBe(("qemu", "qemu", Path.Combine(DataDir, "qemu")));
        pool.Settings["Root"].ShouldBe("/srv/qemu");
        pool.Labels.ShouldBeEmpty();
        Declare().ShouldHaveSingleItem().Driver.ShouldBe("simulated");
    }

    [Fact]
    public void Pools_AreDeclaredByName_EachWithItsDriverLabelsSettingsAndOwnDirectory()
    {
        var pools = Declare(
            ("Fabric:Pools:lab:Driver", "qemu"), ("Fabric:Pools:lab:Labels:region", "lab"), ("Fabric:Pools:lab:Accelerator", "kvm"),
            ("Fabric:Pools:sim:Driver", "simulated"));

        pools.Select(p => (p.Name, p.Driver, p.Root)).ShouldBe(
            [("lab", "qemu", Path.Combine(DataDir, "pools", "lab")), ("sim", "simulated", Path.Combine(DataDir, "pools", "sim"))]);
        pools[0].Labels.ShouldBe(new Dictionary<string, string> { ["region"] = "lab" });
        pools[0].Settings["Accelerator"].ShouldBe("kvm");
    }

    [Fact]
    public void Pools_AndTheFabricOption_Together_AreRefused() =>
        Should.Throw<InvalidOperationException>(() => Declare(("Welkin:Fabric", "qemu"), ("Fabric:Pools:sim:Driver", "simulated")))
            .Message.ShouldContain("declared twice");

    [Theory]
    [InlineData("vmware")]
    [InlineData("")]
    public void APool_OfADriverThisBuildLacks_IsRefused_NamingTheDriversOffered(string driver) =>
        Should.Throw<InvalidOperationException>(() => Declare(("Fabric:Pools:p:Driver", driver)))
            .Message.ShouldContain("this build offers: simulated, qemu");

    [Fact]
    public void APool_WithAnInvalidName_IsRefused() =>
        Should.Throw<InvalidOperationException>(() => Declare(("Fabric:Pools:Lab One:Driver", "simulated"))).Message.ShouldContain("'Lab One'");

    [Fact]
    public void QemuPools_SharingOneDirectory_AreRefused() =>
        Should.Throw<InvalidOperationException>(() => Declare(
                ("Fabric:Pools:a:Driver", "qemu"), ("Fabric:Pools:a:Root", "/srv/vm"),
                ("Fabric:Pools:b:Driver", "qemu"), ("Fabric:Pools:b:Root", "/srv/vm/")))
            .Message.ShouldContain("one directory");

    [Fact]
    public void APeerPool_NamesItsPeer_AndWithoutOneIsRefused()
    {
        var pool = Declare(("Fabric:Pools:cloud2:Driver", "peer"), ("Fabric:Pools:cloud2:Peer", "Cloud2"), ("Fabric:Pools:cloud2:Labels:jurisdiction", "DE"))
            .ShouldHaveSingleItem();

        (pool.Name, pool.Driver, pool.Settings["Peer"]).ShouldBe(("cloud2", "peer", "Cloud2"));
        Should.Throw<InvalidOperationException>(() => Declare(("Fabric:Pools:cloud2:Driver", "peer"))).Message.ShouldContain("names no Peer");
    }
}
