using Dapper;

namespace Welkin.Core.Data;

/// <summary>
/// <c>IN</c> lists that run on both providers. Dapper expands <c>IN @list</c> into one parameter
/// per value on SQLite but sends an array to Npgsql, which <c>IN</c> cannot take; spelling the
/// parameters out works on both.
/// </summary>
public static class SqlLists
{
    /// <summary>
    /// Adds <paramref name="values"/> to <paramref name="parameters"/> as <c>@{name}0</c>, <c>@{name}1</c>, …
    /// and returns <c>IN (@{name}0, @{name}1, …)</c>; an empty list gives <c>IN (NULL)</c>, which matches nothing.
    /// </summary>
    public static string In<T>(DynamicParameters parameters, string name, IEnumerable<T> values)
    {
        var names = new List<string>();
        foreach (var value in values)
        {
            var parameter = name + names.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            parameters.Add(parameter, value);
            names.Add("@" + parameter);
        }
        return names.Count == 0 ? "IN (NULL)" : $"IN ({string.Join(", ", names)})";
    }
}
