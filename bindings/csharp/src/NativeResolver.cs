using System;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Ocrcloud
{
    /// <summary>
    /// Finds the library where the NuGet package puts it, beside this assembly (an application's
    /// output folder, where NuGet copies it): runtimes/linux-x64/native/libocrcloud.so,
    /// runtimes/linux-arm64/native/libocrcloud.so or runtimes/win-x64/native/ocrcloud.dll,
    /// whichever matches the running process. On .NET (Core 3.0
    /// and later) through NativeLibrary.SetDllImportResolver, looked up by reflection so that the
    /// same sources compile with mono's mcs; mono has no such API and maps the name with the
    /// dllmap of Ocrcloud.dll.config, which lies beside the assembly too. Where the folder has no
    /// library, the runtime's own search goes on (the host's deps.json, then the library path).
    /// </summary>
    internal static class NativeResolver
    {
        /// <summary>The library's path relative to the assembly's folder, for the running
        /// process's operating system and architecture (the package's runtime identifiers).</summary>
        internal static string RelativePath
        {
            get
            {
                string arch = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "arm64" : "x64";
                return RuntimeInformation.IsOSPlatform(OSPlatform.Windows)
                    ? "runtimes/win-" + arch + "/native/ocrcloud.dll"
                    : "runtimes/linux-" + arch + "/native/libocrcloud.so";
            }
        }

        private static MethodInfo load;

        /// <summary>Installs the resolver on .NET; does nothing on mono. Called once, by Native's
        /// static constructor, before the first native call.</summary>
        internal static void Register()
        {
            Type nativeLibrary = Type.GetType("System.Runtime.InteropServices.NativeLibrary");
            Type resolverType = Type.GetType("System.Runtime.InteropServices.DllImportResolver");
            if (nativeLibrary == null || resolverType == null)
            {
                return;
            }
            load = nativeLibrary.GetMethod("Load", new[] { typeof(string) });
            MethodInfo set = nativeLibrary.GetMethod("SetDllImportResolver", new[] { typeof(Assembly), resolverType });
            Delegate resolver = Delegate.CreateDelegate(resolverType,
                typeof(NativeResolver).GetMethod("Resolve", BindingFlags.NonPublic | BindingFlags.Static));
            set.Invoke(null, new object[] { typeof(NativeResolver).Assembly, resolver });
        }

        private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (name != "ocrcloud")
            {
                return IntPtr.Zero;
            }
            string path = Path.Combine(Path.GetDirectoryName(assembly.Location), RelativePath);
            return File.Exists(path) ? (IntPtr)load.Invoke(null, new object[] { path }) : IntPtr.Zero;
        }
    }
}
