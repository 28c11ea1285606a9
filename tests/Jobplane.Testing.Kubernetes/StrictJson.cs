using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;

namespace Jobplane.Testing.Kubernetes;

/// <summary>
/// Decodes a request body into the client's model and refuses any field the model does not have,
/// as the real API server does with fieldValidation=Strict: the body is decoded, encoded again, and
/// every non-null member of the original must have survived the round trip.
/// </summary>
internal static class StrictJson
{
    public static bool TryDecode<T>(string body, out T? value, out string error)
    {
        value = default;
        error = "";
        JsonNode? original;
        try
        {
            original = JsonNode.Parse(body);
            value = KubernetesJson.Deserialize<T>(body);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            error = $"error decoding body: {e.Message}";
            return false;
        }
        if (value is null || original is not JsonObject)
        {
            error = "the body is not a JSON object";
            return false;
        }
        var roundTrip = JsonNode.Parse(KubernetesJson.Serialize(value));
        var unknown = new List<string>();
        FindUnknown(original, roundTrip, "", unknown);
        if (unknown.Count == 0) return true;
        error = "strict decoding error: " + string.Join(", ", unknown.Select(u => $"unknown field \"{u}\""));
        value = default;
        return false;
    }

    private static void FindUnknown(JsonNode? original, JsonNode? decoded, string path, List<string> unknown)
    {
        switch (original)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj)
                {
                    if (child is null) continue;
                    var childPath = path.Length == 0 ? name : $"{path}.{name}";
                    if (decoded is not JsonObject decodedObject || !decodedObject.TryGetPropertyValue(name, out var decodedChild))
                    {
                        unknown.Add(childPath);
                        continue;
                    }
                    FindUnknown(child, decodedChild, childPath, unknown);
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    var decodedItem = decoded is JsonArray decodedArray && i < decodedArray.Count ? decodedArray[i] : null;
                    FindUnknown(array[i], decodedItem, $"{path}[{i}]", unknown);
                }
                break;
        }
    }
}
