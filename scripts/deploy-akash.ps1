<#
.SYNOPSIS
Deploy one container to Akash with minds371: writes a deployment request and runs
`minds371 deploy` on it. Values are passed to the request as data, never as code.

.EXAMPLE
./scripts/deploy-akash.ps1 -Image nginx:1.27 -Env "GREETING=hello" -MaxPrice 100
#>
[CmdletBinding()]
param(
    [string]$Name = "",
    [Parameter(Mandatory = $true)][string]$Image,
    [string]$Cpu = "0.5",
    [string]$Memory = "512Mi",
    [string]$Storage = "1Gi",
    [int]$Port = 80,
    [string[]]$Env = @(),
    [ValidateSet("sandbox", "console", "cli")][string]$Network = "sandbox",
    [string]$MaxPrice = "100",
    [switch]$Json
)
$ErrorActionPreference = "Stop"

if (-not $Name) {
    $Name = ($Image -replace '.*/', '' -replace '[:@].*', '').ToLower() -replace '[^a-z0-9-]', '-'
    $Name = $Name.Trim('-')
}
$environment = [ordered]@{}
foreach ($pair in $Env) {
    $index = $pair.IndexOf("=")
    if ($index -lt 1) { Write-Error "deploy-akash.ps1: -Env '$pair' must be KEY=VALUE"; exit 2 }
    $environment[$pair.Substring(0, $index)] = $pair.Substring($index + 1)
}
$request = [ordered]@{
    name       = $Name
    network    = $Network
    infra_spec = [ordered]@{
        services       = @([ordered]@{
            name    = $Name
            image   = $Image
            cpu     = $Cpu
            memory  = $Memory
            storage = $Storage
            env     = $environment
            ports   = @(@{ port = $Port })
        })
        max_price_uact = $MaxPrice
    }
}
$file = New-TemporaryFile
try {
    $path = "$($file.FullName).json"
    Move-Item $file.FullName $path
    # ConvertTo-Json writes the values as JSON strings: nothing in them is evaluated.
    $request | ConvertTo-Json -Depth 10 | Set-Content -Path $path -Encoding utf8
    $minds371 = if ($env:MINDS371) { $env:MINDS371 } else { "minds371" }
    $arguments = @("deploy", $path)
    if ($Json) { $arguments += "--json" }
    & $minds371 @arguments
    exit $LASTEXITCODE
}
finally {
    Remove-Item -ErrorAction SilentlyContinue $path
}
