@echo off
rem collect.cmd - gather what evtwatch needs from a Windows server into one
rem folder, for offline analysis on another machine:
rem   evtwatch analyze FOLDER   (event logs + port owners)
rem   evtwatch ports FOLDER     (who holds which port)
rem   evtwatch audit FOLDER     (dynamic port range against fixed service ports)
rem
rem Plain cmd.exe: runs on a stock Windows Server 2003 / XP as well as on
rem current Windows, where the evtwatch binary itself cannot run (Go 1.26
rem needs Windows 10 / Server 2016). Run it as an administrator: netstat -b
rem and the event log backup need it. Nothing on the server is changed.
rem
rem Usage: collect.cmd [DEST]   (DEST defaults to the folder collect.cmd is in)

rem Delayed expansion off whatever the registry default: "!" appears below.
setlocal EnableExtensions DisableDelayedExpansion
if "%~1"=="/?" goto usage
if "%~1"=="-h" goto usage

rem Not the current folder: "Run as administrator" starts in system32.
set "DEST=%~1"
if "%DEST%"=="" set "DEST=%~dp0"
for %%D in ("%DEST%") do set "DEST=%%~fD"
if "%DEST:~-1%"=="\" set "DEST=%DEST:~0,-1%"

rem --- timestamp: wmic (2003..Server 2022), else PowerShell -------------
rem wmic and powershell read stdin: "<nul" keeps them from waiting forever
rem when the script runs without a console (PsExec, a scheduled task).
set "LDT="
for /f "tokens=2 delims==" %%I in ('wmic os get LocalDateTime /value 2^>nul ^<nul ^| find "="') do set "LDT=%%I"
set "STAMP="
if defined LDT set "STAMP=%LDT:~0,8%-%LDT:~8,6%"
set "ISO="
if not defined STAMP for /f %%I in ('powershell -NoProfile -Command "(Get-Date).ToString('yyyyMMdd-HHmmss')" 2^>nul ^<nul') do set "STAMP=%%I"
if not defined LDT for /f %%I in ('powershell -NoProfile -Command "(Get-Date).ToString('o')" 2^>nul ^<nul') do set "ISO=%%I"
if not defined STAMP set "STAMP=%RANDOM%%RANDOM%"

set "OUT=%DEST%\%COMPUTERNAME%-%STAMP%"
if exist "%OUT%" set "OUT=%OUT%-%RANDOM%"
mkdir "%OUT%" 2>nul
if not exist "%OUT%\" goto mkfail
set "INFO=%OUT%\info.txt"
echo Collecting into "%OUT%"

rem info.txt is recognised by its first line; evtwatch reads computer=,
rem LocalDateTime= / collected= and ignores the note= lines.
rem Redirections come first on echo lines: "echo x 1>file" would treat the
rem 1 as a handle number.
>"%INFO%" echo evtwatch-collect 1
>>"%INFO%" echo computer=%COMPUTERNAME%
if defined LDT >>"%INFO%" echo LocalDateTime=%LDT%
if defined ISO >>"%INFO%" echo collected=%ISO%

net session >nul 2>&1 && goto admin
>>"%INFO%" echo note=not run as administrator: netstat -b and some event logs may be missing
echo   warning: not running as administrator; some data will be missing
:admin

rem NT 5.x (2000/XP/2003) has no netsh dynamic ports and no wevtutil.
set "LEGACY="
ver | findstr /r /c:"[^0-9]5\.[0-9]" >nul && set "LEGACY=1"

rem --- OS version ---------------------------------------------------------
echo   ver, systeminfo
ver > "%OUT%\ver.txt"
systeminfo > "%OUT%\systeminfo.txt" 2>nul
call :keep "%OUT%\systeminfo.txt" "systeminfo"

rem --- port owners --------------------------------------------------------
echo   netstat -ano
netstat -ano > "%OUT%\netstat-ano.txt"
echo   tasklist
tasklist /svc /fo csv > "%OUT%\tasklist-svc.csv" 2>nul
call :keep "%OUT%\tasklist-svc.csv" "tasklist /svc"
tasklist /fo csv > "%OUT%\tasklist.csv" 2>nul
call :keep "%OUT%\tasklist.csv" "tasklist"

echo   process list
set "HAVE_WMIC="
wmic os get Caption >nul 2>&1 <nul && set "HAVE_WMIC=1"
if defined HAVE_WMIC goto wmicprocs
powershell -NoProfile -Command "Get-CimInstance Win32_Process | ForEach-Object { ''; 'CreationDate=' + $(if ($_.CreationDate) { $_.CreationDate.ToString('o') }); 'ExecutablePath=' + $_.ExecutablePath; 'Name=' + $_.Name; 'ProcessId=' + $_.ProcessId }" > "%OUT%\processes.txt" 2>nul <nul
goto procsdone
:wmicprocs
wmic process get CreationDate,ExecutablePath,Name,ProcessId /value > "%OUT%\processes.txt" 2>nul <nul
:procsdone
call :keep "%OUT%\processes.txt" "process list"

rem --- port settings --------------------------------------------------------
echo   registry: Tcpip and DNS parameters
rem A failed query may leave its error text in the file: drop it.
reg query "HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters" > "%OUT%\reg-tcpip.txt" 2>nul
if errorlevel 1 >>"%INFO%" echo note=reg query Tcpip\Parameters failed
if errorlevel 1 del "%OUT%\reg-tcpip.txt" >nul 2>&1
call :keep "%OUT%\reg-tcpip.txt" "reg query Tcpip\Parameters"
reg query "HKLM\SYSTEM\CurrentControlSet\Services\DNS\Parameters" > "%OUT%\reg-dns.txt" 2>nul
if errorlevel 1 >>"%INFO%" echo note=DNS\Parameters not found: DNS Server not installed
if errorlevel 1 del "%OUT%\reg-dns.txt" >nul 2>&1
call :keep "%OUT%\reg-dns.txt" "reg query DNS\Parameters"

if defined LEGACY goto nonetsh
echo   netsh dynamic ports and exclusions
netsh int ipv4 show dynamicport tcp > "%OUT%\netsh-dynamicport.txt" 2>nul
netsh int ipv4 show dynamicport udp >> "%OUT%\netsh-dynamicport.txt" 2>nul
call :keeptable "%OUT%\netsh-dynamicport.txt" "netsh dynamicport"
netsh int ipv4 show excludedportrange protocol=udp > "%OUT%\netsh-excludedportrange.txt" 2>nul
netsh int ipv4 show excludedportrange protocol=tcp >> "%OUT%\netsh-excludedportrange.txt" 2>nul
call :keeptable "%OUT%\netsh-excludedportrange.txt" "netsh excludedportrange (2008 R2 needs KB 2665809)"
:nonetsh

rem --- event logs ---------------------------------------------------------
echo   event logs
wevtutil el >nul 2>&1
if errorlevel 1 goto legacylogs
wevtutil epl System "%OUT%\System.evtx"
if errorlevel 1 >>"%INFO%" echo note=wevtutil epl System failed
wevtutil epl Application "%OUT%\Application.evtx"
if errorlevel 1 >>"%INFO%" echo note=wevtutil epl Application failed
wevtutil gl "DNS Server" >nul 2>&1 && wevtutil epl "DNS Server" "%OUT%\DNS Server.evtx"
goto logsdone

:legacylogs
rem 2003/XP: back the logs up through WMI (Win32_NTEventlogFile.BackupEventlog),
rem which writes the same .evt files Event Viewer saves.
set "VBS=%TEMP%\evtwatch-backup-%RANDOM%.vbs"
>"%VBS%" echo Set wmi = GetObject("winmgmts:{impersonationLevel=impersonate,(Backup,Security)}!\\.\root\cimv2")
>>"%VBS%" echo Set logs = wmi.ExecQuery("SELECT * FROM Win32_NTEventlogFile WHERE LogFileName='" ^& WScript.Arguments(0) ^& "'")
>>"%VBS%" echo found = False
>>"%VBS%" echo For Each l In logs
>>"%VBS%" echo   found = True
>>"%VBS%" echo   rc = l.BackupEventlog(WScript.Arguments(1))
>>"%VBS%" echo   If rc ^<^> 0 Then WScript.Echo "BackupEventlog " ^& WScript.Arguments(0) ^& " failed: " ^& rc : WScript.Quit rc
>>"%VBS%" echo Next
>>"%VBS%" echo If Not found Then WScript.Quit 2
cscript //nologo "%VBS%" System "%OUT%\System.evt"
if errorlevel 1 >>"%INFO%" echo note=System log backup failed
cscript //nologo "%VBS%" Application "%OUT%\Application.evt"
if errorlevel 1 >>"%INFO%" echo note=Application log backup failed
cscript //nologo "%VBS%" "DNS Server" "%OUT%\DNS Server.evt" >nul 2>&1
del "%VBS%" >nul 2>&1
:logsdone

rem --- last, because it is slow with a DNS socket pool of 2,500 sockets ---
echo   netstat -anob (slow on DNS servers)
netstat -anob > "%OUT%\netstat-anob.txt" 2>nul
findstr /r /c:"^ *[TU][CD]P " "%OUT%\netstat-anob.txt" >nul 2>&1 && goto anobdone
del "%OUT%\netstat-anob.txt" >nul 2>&1
>>"%INFO%" echo note=netstat -anob gave no socket rows (needs administrator rights); file removed
:anobdone

echo Done: "%OUT%"
echo Copy the folder to a machine with evtwatch and run:  evtwatch analyze "%COMPUTERNAME%-%STAMP%"
endlocal
exit /b 0

rem :keeptable FILE WHAT - netsh prints "The following command was not found"
rem on stdout where a command is missing: keep only output with a table rule.
:keeptable
if not exist "%~1" goto :eof
findstr /c:"-----" "%~1" >nul 2>&1 && goto :eof
del "%~1" >nul 2>&1
>>"%INFO%" echo note=%~2 not available; file removed
goto :eof

rem :keep FILE WHAT - remove an empty capture and say so in info.txt
:keep
if not exist "%~1" goto :eof
if %~z1 GTR 0 goto :eof
del "%~1" >nul 2>&1
>>"%INFO%" echo note=%~2 gave no output; file removed
goto :eof

:mkfail
echo collect.cmd: cannot create "%OUT%"
exit /b 1

:usage
echo Usage: collect.cmd [DEST]   (DEST defaults to the folder collect.cmd is in)
echo Gathers event logs, netstat, tasklist, registry and netsh port settings
echo into DEST\COMPUTERNAME-YYYYMMDD-HHMMSS for evtwatch analyze/ports/audit.
exit /b 0
