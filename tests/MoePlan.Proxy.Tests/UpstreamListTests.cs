using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Proxy.Routing;

namespace MoePlan.Proxy.Tests;

public sealed class UpstreamListTests
{
    [Fact]
    public void ReadsPoolsInstancesUrlsAndBootstrapPorts()
    {
        var diagnostics = new List<Diagnostic>();
        var list = UpstreamList.Parse("u.txt", "# comment\nprefill 1 http://10.0.0.2:30000 8998\nprefill 0 http://10.0.0.1:30000\r\n\ndecode 0 http://10.0.0.3:30000  # d\n", diagnostics);
        Assert.Empty(diagnostics);
        Assert.NotNull(list);
        Assert.Equal(["http://10.0.0.1:30000/", "http://10.0.0.2:30000/"], list!.Prefill.Select(u => u.Url.ToString()));
        Assert.Equal(8998, list.Prefill[1].BootstrapPort);
        Assert.Null(list.Prefill[0].BootstrapPort);
        Assert.Equal(PoolRole.Decode, list.Decode.Single().Pool);
        Assert.True(list.Disaggregated);

        // What it writes reads back the same.
        var again = UpstreamList.Parse("w.txt", list.Write(), diagnostics);
        Assert.Empty(diagnostics);
        Assert.Equal(list.All.Select(u => (u.Pool, u.Instance, u.Url, u.BootstrapPort)), again!.All.Select(u => (u.Pool, u.Instance, u.Url, u.BootstrapPort)));
    }

    [Theory]
    [InlineData("prefill 0", "MP5500", 1)]
    [InlineData("prefil 0 http://a:1", "MP5501", 1)]
    [InlineData("prefill -1 http://a:1", "MP5502", 1)]
    [InlineData("prefill 0 ftp://a:1", "MP5503", 1)]
    [InlineData("prefill 0 http://a:1\nprefill 0 http://b:1", "MP5504", 2)]
    [InlineData("prefill 0 http://a:1\nprefill 2 http://b:1", "MP5505", 1)]
    [InlineData("decode 0 http://a:1", "MP5506", 1)]
    [InlineData("prefill 0 http://a:1 70000", "MP5507", 1)]
    public void BadLinesAreLocatedDiagnostics(string text, string code, int line)
    {
        var diagnostics = new List<Diagnostic>();
        Assert.Null(UpstreamList.Parse("u.txt", text, diagnostics));
        var d = Assert.Single(diagnostics);
        Assert.Equal(code, d.Code);
        Assert.Equal(line, d.Span!.Value.Line);
        Assert.Equal("u.txt", d.Span.Value.File);
    }

    [Fact]
    public void CountsUnlikeThePlansAreAWarning()
    {
        var diagnostics = new List<Diagnostic>();
        var list = UpstreamList.Parse("u.txt", "prefill 0 http://a:1\nprefill 1 http://b:1\ndecode 0 http://c:1\n", diagnostics)!;
        // The tiny plan has one prefill and one decode instance.
        list.CompareWith(TestPlans.Plan(TestPlans.Tiny), "u.txt", diagnostics);
        var d = Assert.Single(diagnostics);
        Assert.Equal("MP5508", d.Code);
        Assert.False(d.IsError);
    }
}
