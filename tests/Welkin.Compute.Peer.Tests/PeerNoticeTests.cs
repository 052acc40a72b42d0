using System.Xml.Linq;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Federation;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Federation;
using Welkin.Testing;

namespace Welkin.Compute.Peer.Tests;

/// <summary>Machine notices over a real exchange: a change on the peer reaches the consumer's pool long before its poll interval.</summary>
public sealed class PeerNoticeTests(PeerXmppClouds clouds) : IClassFixture<PeerXmppClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MachineChangeOnThePeer_MakesThePoolPollAtOnce_ThroughANotice()
    {
        var pool = (PeerDriver)clouds.Consumer.Services.GetRequiredService<ComputeFabric>().Find(PeerXmppClouds.Pool)!.Driver;
        // Its interval is an hour: it has not polled yet.
        pool.Status.Available.ShouldBeFalse();
        var spec = new MachineSpec(Ids.New(Ids.Machine, TimeProvider.System), "acc_test", PeerClouds.Host, 1, 512, 10, null, "Welkin Test OS",
            new Dictionary<string, string>(), new Dictionary<string, string>(), null, [], []);

        // Cloud2 records the new machine of Cloud1's account and tells Cloud1, which polls Cloud2.
        (await pool.CreateAsync(spec, null, Ct)).Error.ShouldBeNull();

        await Polling.UntilAsync(() => Task.FromResult(pool.Status.Available), "a poll a notice caused", TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        pool.Status.AgreementId.ShouldBe(clouds.Agreement.Id);
    }
}

/// <summary>Which machine notices a consumer takes: only the verified session of the peer it has the named agreement in force with.</summary>
public sealed class MachineNoticeTests(PeerClouds clouds) : IClassFixture<PeerClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(XmppIqAnswer Answer, bool Nudged)> SendAsync(string from, bool verified, XElement payload, string type = "set")
    {
        using var driver = clouds.NewDriver(TimeSpan.FromHours(1));
        await using var fabric = new ComputeFabric([new HostPool(PeerClouds.Host, driver)]);
        var answer = await MachineNotice.AnswerAsync(new XmppIqRequest(from + "/welkin", type, payload), verified,
            clouds.Consumer.Services.GetRequiredService<AgreementStore>(), fabric, Ct);
        // A nudge taken moments ago leaves no room for another.
        return (answer, !driver.Nudge());
    }

    [Fact]
    public async Task Notice_FromThePeerOfTheAgreement_NudgesItsPool()
    {
        var (answer, nudged) = await SendAsync(clouds.Provider.XmppAddress, true, MachineNotice.Create(clouds.Agreement.Id));

        answer.IsError.ShouldBeFalse();
        nudged.ShouldBeTrue();
    }

    [Theory]
    [InlineData("unverified", "forbidden")]
    [InlineData("other-agreement", "item-not-found")]
    [InlineData("other-sender", "item-not-found")]
    [InlineData("no-agreement", "item-not-found")]
    [InlineData("get", "bad-request")]
    public async Task Notice_NotFromThePeerOfAnAgreementInForce_IsRefused_AndNudgesNothing(string what, string condition)
    {
        var notice = MachineNotice.Create(clouds.Agreement.Id);
        var (answer, nudged) = what switch
        {
            "unverified" => await SendAsync(clouds.Provider.XmppAddress, false, notice),
            "other-agreement" => await SendAsync(clouds.Provider.XmppAddress, true, MachineNotice.Create(Ids.New(Ids.Agreement, TimeProvider.System))),
            "other-sender" => await SendAsync("rogue@exchange.test", true, notice),
            "no-agreement" => await SendAsync(clouds.Provider.XmppAddress, true, new XElement(MachineNotice.ElementName)),
            _ => await SendAsync(clouds.Provider.XmppAddress, true, notice, "get"),
        };

        answer.Condition.ShouldBe(condition);
        nudged.ShouldBeFalse();
    }
}
