using Welkin.Portal.Tests;

// One Chromium for the assembly; each test class has its own cloud, each test its own browser context.
[assembly: AssemblyFixture(typeof(Browser))]
