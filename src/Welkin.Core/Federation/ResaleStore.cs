using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Federation;

public sealed record ResaleRow(
    string Id, string AgreementId, string Peer, string PeerOfferingId, string OfferingId, string TemplateId, string MarginPercent, long CreatedAt)
{
    public decimal Margin => decimal.Parse(MarginPercent, NumberStyles.Number, CultureInfo.InvariantCulture);
}

/// <summary>
/// A broker's resales (table <c>resales</c>): a peer's offering, under one of this cloud's agreements,
/// published here as an offering of its own at the peer's prices plus a margin. One per agreement and
/// peer offering; recording one is audited.
/// </summary>
public sealed class ResaleStore(IDatabase db, AuditLog audit, TimeProvider clock)
{
    private const string Columns =
        "id AS Id, agreement_id AS AgreementId, peer AS Peer, peer_offering_id AS PeerOfferingId, offering_id AS OfferingId, template_id AS TemplateId, " +
        "margin_percent AS MarginPercent, created_at AS CreatedAt";

    public Task<ResaleRow?> GetAsync(string id, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ResaleRow>($"SELECT {Columns} FROM resales WHERE id = @Id", new { Id = id }, ct);

    public Task<ResaleRow?> FindAsync(string agreementId, string peerOfferingId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ResaleRow>(
            $"SELECT {Columns} FROM resales WHERE agreement_id = @AgreementId AND peer_offering_id = @PeerOfferingId",
            new { AgreementId = agreementId, PeerOfferingId = peerOfferingId }, ct);

    /// <summary>The resale an offering of this cloud comes from, if any.</summary>
    public Task<ResaleRow?> OfOfferingAsync(string offeringId, CancellationToken ct) =>
        db.QuerySingleOrDefaultAsync<ResaleRow>($"SELECT {Columns} FROM resales WHERE offering_id = @Id", new { Id = offeringId }, ct);

    public Task<IReadOnlyList<ResaleRow>> ListAsync(string? agreementId, CancellationToken ct) =>
        db.QueryAsync<ResaleRow>(
            $"SELECT {Columns} FROM resales WHERE (@AgreementId IS NULL OR agreement_id = @AgreementId) ORDER BY id", new { AgreementId = agreementId }, ct);

    /// <summary>Records a resale; when one already exists for the agreement and peer offering, that one is returned instead.</summary>
    public async Task<Result<ResaleRow>> InsertAsync(Caller caller, string agreementId, string peer, string peerOfferingId, string offeringId, string templateId,
        decimal margin, CancellationToken ct) =>
        await db.WriteAsync<ResaleRow>(async tx =>
        {
            var row = new ResaleRow(Ids.New(Ids.Resale, clock), agreementId, peer, peerOfferingId, offeringId, templateId,
                margin.ToString(CultureInfo.InvariantCulture), clock.GetUtcNow().ToUnixTimeMilliseconds());
            var n = await tx.ExecuteAsync(
                """
                INSERT INTO resales (id, agreement_id, peer, peer_offering_id, offering_id, template_id, margin_percent, created_at)
                VALUES (@Id, @AgreementId, @Peer, @PeerOfferingId, @OfferingId, @TemplateId, @MarginPercent, @CreatedAt)
                ON CONFLICT DO NOTHING
                """, row);
            if (n == 0)
            {
                return await tx.QuerySingleOrDefaultAsync<ResaleRow>(
                    $"SELECT {Columns} FROM resales WHERE agreement_id = @AgreementId AND peer_offering_id = @PeerOfferingId", row) is { } earlier
                    ? earlier : Error.Concurrency("Resale", peerOfferingId);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("federation.resale.create", row.Id, AuditEvent.Success, null,
                $"agreement={agreementId}; peer={peer}; peer-offering={peerOfferingId}; offering={offeringId}; margin={row.MarginPercent}%"));
            return row;
        }, ct);

    public static ResaleView ToView(ResaleRow r) =>
        new(r.Id, r.AgreementId, r.Peer, r.PeerOfferingId, r.OfferingId, r.TemplateId, r.Margin, DbTime.FromDb(r.CreatedAt));
}
