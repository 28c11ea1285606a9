using YamlDotNet.RepresentationModel;

namespace Jobplane.ImagesTests;

/// <summary>
/// deploy/docker-compose.yml cannot run here (it pulls postgres from a registry); what can be
/// checked is that it runs the image these tests run, the way they run it.
/// </summary>
public sealed class ComposeFileTests
{
    private static YamlMappingNode Services()
    {
        var path = Path.Combine(RepositoryRoot.Find(), "deploy", "docker-compose.yml");
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path)) yaml.Load(reader);
        // The representation model keeps merge keys ("<<: *locked-down") as keys: Field follows them.
        return (YamlMappingNode)((YamlMappingNode)yaml.Documents[0].RootNode)["services"];
    }

    private static string? Field(YamlMappingNode service, string key)
    {
        if (service.Children.TryGetValue(new YamlScalarNode(key), out var value)) return value.ToString();
        return service.Children.TryGetValue(new YamlScalarNode("<<"), out var merged) && merged is YamlMappingNode anchor
            ? Field(anchor, key)
            : null;
    }

    [Theory]
    [InlineData("controller")]
    [InlineData("worker")]
    public void Platform_services_run_the_built_image_read_only_without_building_it(string name)
    {
        var service = (YamlMappingNode)Services()[name];

        Assert.Equal("${JOBPLANE_IMAGE:-" + ImageUnderTest.DefaultName + "}", Field(service, "image"));
        Assert.Equal("true", Field(service, "read_only"));
        Assert.Null(Field(service, "build"));
        Assert.Null(Field(service, "user"));
    }

    [Fact]
    public void Jaeger_and_Prometheus_start_only_with_the_observability_profile()
    {
        var services = Services();

        foreach (var name in new[] { "jaeger", "prometheus" })
        {
            var profiles = (YamlSequenceNode)((YamlMappingNode)services[name])["profiles"];
            Assert.Equal(["observability"], profiles.Children.Select(p => p.ToString()));
        }
        Assert.False(((YamlMappingNode)services["controller"]).Children.ContainsKey(new YamlScalarNode("profiles")));
    }
}
