using System.Globalization;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Contracts;

/// <summary>A storage line drawn for a resource cut from it (a volume, a vault): the line and the increments drawn.</summary>
internal sealed record StorageDraw(ContractItem Line, long Units);

/// <summary>
/// The checks of a request for a storage resource (a volume, a vault) and the draw of its capacity
/// from a storage line of an active contract: the contract seen and locked active, the line found
/// (the given one or the first storage line), the size a multiple of the line's increment within its
/// maximum, and the increments drawn from the line and the account's quota.
/// </summary>
internal static class StorageLines
{
    /// <summary>The request's own checks, before anything is read: a positive size, a valid name and line number, a well-formed contract id.</summary>
    public static Error? Check(string contractId, long sizeGiB, string? name, int? item, string sizeField)
    {
        var v = new Validator();
        v.Require(sizeGiB > 0, sizeField, $"{sizeField} must be a positive multiple of the storage line's increment");
        v.Require(name is null || Names.IsValid(name), "name", $"name {Names.Rule}");
        v.Require(item is null or >= 0, "item", "item must be a line number (0 or more)");
        return v.ToError() ?? (Ids.IsValid(contractId, Ids.Contract) ? null : Error.InvalidId(contractId, "contract"));
    }

    /// <param name="resources">What is provisioned, plural, for the message ("volumes").</param>
    /// <param name="sizeField">The request's size field ("sizeGiB").</param>
    public static async Task<Result<StorageDraw>> DrawAsync(
        Tx tx, Caller caller, string accountId, string contractId, int? item, long sizeGiB, string resources, string sizeField)
    {
        var contract = await ContractStore.GetAsync(tx, contractId);
        if (contract is null || !Tenancy.Sees(caller, contract.AccountId))
        {
            return Error.NotFound("Contract", contractId);
        }
        // The contract row's lock, taken with its state checked in one statement: a termination
        // committing meanwhile either waits for this resource (and then releases it) or is seen
        // here, so no resource outlives its contract.
        if (!await ContractStore.LockActiveAsync(tx, contractId))
        {
            return Error.InvalidState($"Contract '{contractId}' is {contract.State}; {resources} are provisioned from active contracts.");
        }
        var items = contract.Lines;
        var line = item is { } n ? items.FirstOrDefault(i => i.Item == n) : items.FirstOrDefault(i => i.Kind == OfferingKind.Storage);
        if (line is null)
        {
            return item is null
                ? Error.Validation("contractId", $"contract '{contractId}' has no storage line")
                : Error.Validation("item", $"contract '{contractId}' has no line {item}");
        }
        if (line.Kind != OfferingKind.Storage || line.Storage is not { IncrementGiB: > 0 } storage)
        {
            return Error.Validation("item", $"line {line.Item} of contract '{contractId}' is not a storage line");
        }
        if (sizeGiB % storage.IncrementGiB != 0)
        {
            return Error.Validation(sizeField, string.Create(CultureInfo.InvariantCulture,
                $"{sizeField} must be a multiple of {storage.IncrementGiB} (the line's increment); {sizeGiB} is not"));
        }
        if (storage.MaxGiB > 0 && sizeGiB > storage.MaxGiB)
        {
            return Error.Validation(sizeField, string.Create(CultureInfo.InvariantCulture, $"{sizeField} must be at most {storage.MaxGiB} for this offering"));
        }
        var units = sizeGiB / storage.IncrementGiB;
        if (await Quotas.DrawProvisionedAsync(tx, accountId, contractId, line.Item, line.LimitUnit, units, "increments") is { } exceeded)
        {
            return exceeded;
        }
        return new StorageDraw(line, units);
    }
}
