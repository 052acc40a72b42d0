using Welkin.Testing;

// One test guest, built once, serves every test of this assembly that boots it.
[assembly: AssemblyFixture(typeof(TestGuest))]
