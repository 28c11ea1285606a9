using System.Globalization;

namespace Jobplane.Bench;

/// <summary>A process's resident memory, read from /proc.</summary>
public static class ProcessMemory
{
    /// <summary>VmRSS and VmHWM (peak) in MiB, from /proc/PID/status; null once the process is gone.</summary>
    public static (double Rss, double Peak)? Read(int pid)
    {
        try
        {
            double rss = 0, peak = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kib(line) / 1024;
                else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kib(line) / 1024;
            }
            return (rss, peak);
        }
        catch (IOException)
        {
            return null;
        }

        static double Kib(string line) =>
            double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}
