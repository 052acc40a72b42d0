using Welkin.Core.Common;

namespace Welkin.Core.Tests.Common;

public sealed class ValidatorTests
{
    [Fact]
    public void ToError_WhenNothingAdded_IsNull() => new Validator().Require(true, "x", "never").ToError().ShouldBeNull();

    [Fact]
    public void ToError_CollectsEveryFieldMessage()
    {
        var error = new Validator().Add("name", "too long").Add("name", "bad start").Require(false, "roles", "required").ToError()!;
        error.Code.ShouldBe("validation-failed");
        error.Kind.ShouldBe(ErrorKind.Validation);
        error.Errors!["name"].ShouldBe(["too long", "bad start"]);
        error.Errors["roles"].ShouldBe(["required"]);
    }

    [Fact]
    public void Result_CarriesValueOrError()
    {
        Result<int> ok = 5;
        ok.IsSuccess.ShouldBeTrue();
        ok.Value.ShouldBe(5);
        Result<int> failed = Error.NotFound("Thing", "x");
        failed.IsSuccess.ShouldBeFalse();
        failed.Error!.Code.ShouldBe("not-found");
        Should.Throw<InvalidOperationException>(() => failed.Value);
    }
}
